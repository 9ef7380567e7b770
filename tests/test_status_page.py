"""The status page /debug/r2/ and HealthCheckMiddleware as operators and
probes meet them: real HTTP to a real gunicorn (the reference settings, with
the middleware first), a real S3 server, a real database with a staff user,
sentinel secrets, and one check that crashes with secrets in its exception."""

import re

import pytest
import requests

from gallery import emulator
from tests.crashing_check.apps import CRASH_ID
from tests.support.endpoints import (
    BEARER,
    DB_PASSWORD,
    SENTINELS,
    TOKEN,
    gunicorn_env,
    prepare_database,
    running_gunicorn,
    staff_session,
    uses_postgres,
)
from tests.support.servers import postgres_database

# A Kubernetes probe or a load balancer addresses the pod by its IP. The
# request still goes to 127.0.0.1; only the Host header names the IP.
PROBE_HOST = {"Host": "10.0.0.7:8000"}
OTHER_PATHS = [
    "/",
    "/debug/r2/",
    "/debug/r2/config",
    "/debug/r2/checks",
    "/admin/login/",
    "/healthzz",
    "/healthz/extra",
    "/no-such-page",
]


@pytest.fixture(scope="module")
def site(moto_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status-page")
    bucket = moto_server.new_bucket_name("sp")
    emulator.provision(moto_server.client(), bucket, ["https://app.example.test"])
    env = gunicorn_env(
        moto_server.endpoint_url,
        bucket,
        tmp,
        DJANGO_DEBUG="true",  # a traceback would show here if anything leaked one
        TEST_CRASHING_CHECK="true",
        **SENTINELS,
    )
    if uses_postgres():
        database = postgres_database("r2_status_page", DB_PASSWORD)
        env["DATABASE_URL"] = database.__enter__()
    plain_session = prepare_database(env)
    try:
        with running_gunicorn(env, workers=2, log_path=tmp / "gunicorn.log") as server:
            server.plain_session = plain_session
            yield server
    finally:
        if uses_postgres():
            database.__exit__(None, None, None)


def call(site, method, path, **kwargs):
    return requests.request(method, site.url + path, timeout=60, allow_redirects=False, **kwargs)


# --- probes by IP ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_a_probe_by_ip_gets_healthz(site, path):
    as_json = call(site, "GET", path, headers={**PROBE_HOST, "Accept": "application/json"})
    assert (as_json.status_code, as_json.json()) == (200, {"status": "ok"})
    head = call(site, "HEAD", path, headers=PROBE_HOST)
    assert (head.status_code, head.content) == (200, b"")
    assert call(site, "POST", path, headers=PROBE_HOST).status_code == 405
    # Nothing of the rest of the stack ran: no session, no CSRF cookie.
    assert "Set-Cookie" not in as_json.headers


@pytest.mark.parametrize("path", OTHER_PATHS)
def test_every_other_path_keeps_host_validation(site, path):
    response = call(site, "GET", path, headers={**PROBE_HOST, **BEARER})
    assert response.status_code == 400


def test_with_a_known_host_the_other_paths_answer_as_before(site):
    assert call(site, "GET", "/debug/r2/config", headers=BEARER).status_code == 200
    assert call(site, "GET", "/no-such-page").status_code == 404


# --- the HTML page's auth matrix ---------------------------------------------------
def test_the_page_asks_for_credentials(site):
    anonymous = call(site, "GET", "/debug/r2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        call(site, "GET", "/debug/r2/", headers={"Authorization": "Bearer wrong"}).status_code
        == 403
    )
    truncated = {"Authorization": f"Bearer {TOKEN[:-1]}"}
    assert call(site, "GET", "/debug/r2/", headers=truncated).status_code == 403
    plain = requests.Session()
    plain.cookies.set("sessionid", site.plain_session)
    assert plain.get(f"{site.url}/debug/r2/", timeout=60).status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_page_refuses_other_methods(site, method):
    assert call(site, method, "/debug/r2/", headers=BEARER).status_code == 405
    assert call(site, method, "/debug/r2/").status_code == 405


def test_the_token_gets_the_page_with_safe_headers(site):
    response = call(site, "GET", "/debug/r2/", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'")
    # The policy's nonce is the one the page's own style and script carry.
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script nonce="{nonce}">' in response.text
    head = call(site, "HEAD", "/debug/r2/", headers=BEARER)
    assert (head.status_code, head.content) == (200, b"")


def test_a_staff_session_gets_the_page(site):
    staff = staff_session(site.url)
    response = staff.get(f"{site.url}/debug/r2/", timeout=60)
    assert response.status_code == 200
    assert "<h1>" in response.text
    assert staff.post(f"{site.url}/debug/r2/", timeout=60).status_code == 405


# --- what the page says, and never says ---------------------------------------------
def test_the_page_shows_the_crash_in_words_with_no_traceback_and_no_secret(site):
    page = call(site, "GET", "/debug/r2/", headers=BEARER).text
    crashed = re.search(
        rf'<tr class="check fail" id="{re.escape(CRASH_ID)}--default">(.*?)</tr>', page, re.S
    )
    assert crashed, "the crashing check is not shown as failed"
    assert "the check could not complete: RuntimeError: boom" in crashed.group(1)
    assert "Traceback" not in page and 'File "' not in page and "KeyError" not in page
    for secret in [*SENTINELS.values(), DB_PASSWORD]:
        assert secret not in page
    assert "[redacted]" in page
    # The headline counts it.
    assert re.search(r"<h1>\d+ failing</h1>", page)
    # Everything else a person came for is there.
    for section in ('id="cors-fix"', 'id="configuration"', 'id="versions"', 'id="group-cors"'):
        assert section in page
    assert "r2.roundtrip." not in page  # the page writes nothing to the bucket


def test_the_page_is_self_contained(site):
    page = call(site, "GET", "/debug/r2/", headers=BEARER).text
    assert "<link" not in page
    assert not re.search(r"""<(script|img|iframe)[^>]*\ssrc=""", page)
    assert not re.search(r"""\shref=["']?(https?:)?//""", page)
    styles = "".join(re.findall(r"<style[^>]*>(.*?)</style>", page, re.S))
    assert styles and "url(" not in styles and "@import" not in styles
