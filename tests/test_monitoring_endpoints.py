"""/livez, /readyz, application/health+json and /metrics as Kubernetes,
uptime monitors and Prometheus meet them: real gunicorn, real moto behind a
counting proxy, a real database with a staff user; prometheus_client's own
parser reads every scrape."""

import datetime
import json

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from gallery import emulator
from tests.support import servers
from tests.support.endpoints import (
    BEARER,
    SENTINELS,
    gunicorn_env,
    prepare_database,
    running_gunicorn,
    staff_session,
)
from tests.support.netproxy import Proxy

IP_HOST = {"Host": "10.1.2.3:8000"}  # a probe addressing the pod by IP
HEALTH_JSON = {"Accept": "application/health+json"}
# draft-inadarei-api-health-check: the fields of a check object, and the top level's.
CHECK_FIELDS = {
    "componentId",
    "componentType",
    "observedValue",
    "observedUnit",
    "status",
    "affectedEndpoints",
    "time",
    "output",
    "links",
}
TOP_FIELDS = {
    "status",
    "version",
    "releaseId",
    "notes",
    "output",
    "checks",
    "links",
    "serviceId",
    "description",
}
PROBE_FAMILIES = {
    "r2_probe_up",
    "r2_probe_duration_seconds",
    "r2_probe_last_success_timestamp_seconds",
}


def call(server, method, path, **kwargs):
    return requests.request(method, server.url + path, timeout=60, allow_redirects=False, **kwargs)


def scrape(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(families, name, suffix=""):
    return {s.labels["alias"]: s.value for s in families[name].samples if s.name == name + suffix}


def assert_draft_document(document, aliases):
    assert set(document) <= TOP_FIELDS
    assert document["status"] in ("pass", "warn", "fail")
    assert set(document["checks"]) == {f"storage:{alias}" for alias in aliases}
    for entries in document["checks"].values():
        assert isinstance(entries, list) and len(entries) == 1
        (entry,) = entries
        assert set(entry) <= CHECK_FIELDS
        assert entry["status"] in ("pass", "fail")
        assert entry["observedUnit"] == "ms" and entry["observedValue"] >= 0
        when = datetime.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) < 600


@pytest.fixture(scope="module")
def site(moto_server, tmp_path_factory):
    """Two healthy S3 aliases (default, private) behind a counting proxy; a
    TTL long enough that a test's scrapes all fall inside it."""
    tmp = tmp_path_factory.mktemp("monitoring")
    client = moto_server.client()
    bucket, private = moto_server.new_bucket_name("mon"), moto_server.new_bucket_name("priv")
    emulator.provision(client, bucket, ["https://app.example.test"])
    client.create_bucket(Bucket=private)
    with Proxy(moto_server.endpoint_url) as proxy:
        env = gunicorn_env(
            proxy.url,
            bucket,
            tmp,
            TEST_HEALTH_TTL="60",
            TEST_HEALTH_TIMEOUT="5",
            TEST_SECOND_BUCKET=private,
            **SENTINELS,
        )
        plain_session = prepare_database(env)
        with running_gunicorn(env, workers=1, threads=4, log_path=tmp / "gunicorn.log") as server:
            server.proxy = proxy
            server.plain_session = plain_session
            yield server


def test_livez_and_readyz_answer_a_probe_by_ip(site):
    for path in ("/livez", "/livez/", "/readyz", "/readyz/", "/healthz"):
        response = call(site, "GET", path, headers={**IP_HOST, "Accept": "application/json"})
        assert (response.status_code, response.json()) == (200, {"status": "ok"}), path
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers
    text = call(site, "GET", "/livez", headers={**IP_HOST, "Accept": "text/plain"})
    assert (text.status_code, text.text) == (200, "ok")
    head = call(site, "HEAD", "/readyz", headers=IP_HOST)
    assert (head.status_code, head.content) == (200, b"")
    for path in ("/livez", "/readyz"):
        refused = call(site, "POST", path, headers=IP_HOST)
        assert refused.status_code == 405
        assert set(refused.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    # Every other path still meets host validation.
    assert call(site, "GET", "/debug/r2/config", headers={**IP_HOST, **BEARER}).status_code == 400


def test_livez_never_asks_the_bucket(site):
    site.proxy.reset_counts()
    for _ in range(20):
        assert call(site, "GET", "/livez", headers=IP_HOST).status_code == 200
    assert sum(site.proxy.counts.values()) == 0


def test_health_json_tells_anonymous_callers_only_the_verdict(site):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "sessionid=forged"}):
        response = call(site, "GET", "/readyz", headers={**IP_HOST, **HEALTH_JSON, **headers})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/health+json"
        assert response.json() == {"status": "pass"}
    plain = call(
        site,
        "GET",
        "/healthz",
        headers=HEALTH_JSON,
        cookies={"sessionid": site.plain_session},
    )
    assert plain.json() == {"status": "pass"}  # signed in, but not staff
    live = call(site, "GET", "/livez", headers={**IP_HOST, **HEALTH_JSON})
    assert (live.status_code, live.json()) == (200, {"status": "pass"})


def test_health_json_shows_each_alias_to_a_token_or_staff(site):
    by_token = call(site, "GET", "/readyz", headers={**IP_HOST, **HEALTH_JSON, **BEARER})
    assert by_token.status_code == 200
    document = by_token.json()
    assert document["status"] == "pass"
    assert_draft_document(document, ["default", "private"])
    assert list(document["checks"]) == ["storage:default", "storage:private"]  # default first
    # The middleware answers before the session middleware runs: it reads the
    # session itself. (No Host override here: requests would then not send
    # the cookie.)
    staff = staff_session(site.url)
    by_staff = staff.get(f"{site.url}/healthz", headers=HEALTH_JSON, timeout=60)
    assert_draft_document(by_staff.json(), ["default", "private"])
    # The default formats stay as they were.
    assert call(site, "GET", "/readyz", headers=BEARER).json() == {"status": "ok"}


def test_metrics_needs_a_token_or_staff(site):
    assert call(site, "GET", "/metrics").status_code == 401
    assert call(site, "GET", "/metrics", headers={"Authorization": "Bearer no"}).status_code == 403
    assert call(site, "POST", "/metrics", headers=BEARER).status_code == 405
    staff = staff_session(site.url)
    assert PROBE_FAMILIES <= set(scrape(staff.get(f"{site.url}/metrics", timeout=60)))


def test_metrics_are_the_probe_per_alias(site):
    families = scrape(call(site, "GET", "/metrics", headers=BEARER))
    assert set(families) == PROBE_FAMILIES
    assert samples(families, "r2_probe_up") == {"default": 1.0, "private": 1.0}
    assert families["r2_probe_duration_seconds"].type == "histogram"
    counts = samples(families, "r2_probe_duration_seconds", "_count")
    assert set(counts) == {"default", "private"} and min(counts.values()) >= 1
    last = samples(families, "r2_probe_last_success_timestamp_seconds")
    now = datetime.datetime.now(datetime.UTC).timestamp()
    assert all(now - 600 < stamp <= now + 1 for stamp in last.values())


def test_fifty_scrapes_inside_the_ttl_cost_at_most_one_probe(site):
    call(site, "GET", "/readyz")  # the cache is fresh (this may be the one probe)
    site.proxy.reset_counts()
    for _ in range(50):
        scrape(call(site, "GET", "/metrics", headers=BEARER))
    # One flight asks each alias once: two buckets, at most one request each.
    assert sum(site.proxy.counts.values()) <= 2, site.proxy.requests


def test_no_answer_contains_a_secret(site):
    seen = []
    for path in ("/livez", "/readyz", "/healthz", "/metrics"):
        for headers in ({}, BEARER, HEALTH_JSON, {**HEALTH_JSON, **BEARER}):
            response = call(site, "GET", path, headers=headers)
            seen.append(response.text + json.dumps(dict(response.headers)))
    for text in seen:
        for secret in SENTINELS.values():
            assert secret not in text
        assert "Traceback" not in text


def test_a_failing_second_alias_is_warn_and_metrics_can_be_public(moto_server, tmp_path):
    bucket = moto_server.new_bucket_name("warn")
    emulator.provision(moto_server.client(), bucket, public=False, cors=False)
    env = gunicorn_env(
        moto_server.endpoint_url,
        bucket,
        tmp_path,
        TEST_SECOND_BUCKET="no-such-bucket-here",
        TEST_METRICS_PUBLIC="true",
    )
    with running_gunicorn(env, workers=1) as server:
        assert call(server, "GET", "/healthz").json() == {"status": "ok"}  # still ready
        anonymous = call(server, "GET", "/readyz", headers=HEALTH_JSON)
        assert (anonymous.status_code, anonymous.json()) == (200, {"status": "warn"})
        token = {"Authorization": "Bearer endpoint-test-token"}
        detailed = call(server, "GET", "/readyz", headers={**HEALTH_JSON, **token}).json()
        assert_draft_document(detailed, ["default", "private"])
        assert detailed["checks"]["storage:private"][0]["status"] == "fail"
        families = scrape(call(server, "GET", "/metrics"))  # METRICS_PUBLIC: no token
        assert samples(families, "r2_probe_up") == {"default": 1.0, "private": 0.0}
        assert "private" not in samples(families, "r2_probe_last_success_timestamp_seconds")


def test_a_hanging_bucket_fails_readiness_but_not_liveness(tmp_path):
    """The bucket hangs and the database was never migrated: /livez stays 200
    without asking either, /readyz is 503 within the deadline; and a site
    without prometheus_client answers /metrics 501 naming the pip line."""
    shadow = tmp_path / "shadow" / "prometheus_client"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed here')\n")
    with servers.HangingServer() as hanging:
        env = gunicorn_env(hanging.url, "hangs", tmp_path, TEST_HEALTH_TIMEOUT="1")
        env["PYTHONPATH"] = f"{shadow.parent}:{env['PYTHONPATH']}"
        with running_gunicorn(env, workers=1) as server:
            for _ in range(3):
                live = call(server, "GET", "/livez", cookies={"sessionid": "x" * 32})
                assert (live.status_code, live.json()) == (200, {"status": "ok"})
            assert not hanging.held, "/livez asked the bucket"
            failing = call(server, "GET", "/readyz", headers=HEALTH_JSON)
            assert failing.status_code == 503
            assert failing.headers["Content-Type"] == "application/health+json"
            assert failing.json() == {"status": "fail"}
            assert call(server, "GET", "/readyz").json() == {"status": "unavailable"}
            token = {"Authorization": "Bearer endpoint-test-token"}
            detailed = call(server, "GET", "/readyz", headers={**HEALTH_JSON, **token}).json()
            assert detailed["checks"]["storage:default"][0]["status"] == "fail"
            missing = call(server, "GET", "/metrics", headers=token)
            assert missing.status_code == 501
            assert "pip install 'r2-toolkit[metrics]'" in missing.json()["error"]
