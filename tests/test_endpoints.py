"""The endpoints as monitors and operators meet them: real HTTP to a real
gunicorn, a real S3 server behind it, a real database with a staff user."""

import json

import pytest
import requests

from gallery import emulator
from r2_toolkit.core.compat import HAS_FLEXIBLE_CHECKSUMS
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

DEBUG_PATHS = [
    "/debug/r2/config",
    "/debug/r2/cors",
    "/debug/r2/schema",
    "/debug/r2/checks",
    "/api/debug-storage-config/",
    "/api/debug-database-schema/",
]
OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.fixture(scope="module")
def site(moto_server, tmp_path_factory):
    """gunicorn (2 workers, DEBUG on, sentinel secrets) in front of a fresh
    bucket; PostgreSQL with a password in its URL when the suite runs on it."""
    tmp = tmp_path_factory.mktemp("endpoints")
    bucket = moto_server.new_bucket_name("ep")
    emulator.provision(moto_server.client(), bucket, ["https://app.example.test"])
    env = gunicorn_env(
        moto_server.endpoint_url, bucket, tmp, DJANGO_DEBUG="true", TEST_HEALTH_TTL="1", **SENTINELS
    )
    if uses_postgres():
        database = postgres_database("r2_endpoints", DB_PASSWORD)
        env["DATABASE_URL"] = database.__enter__()
    plain_session = prepare_database(env)
    try:
        with running_gunicorn(env, workers=2, log_path=tmp / "gunicorn.log") as server:
            server.bucket = bucket
            server.endpoint_url = moto_server.endpoint_url
            server.plain_session = plain_session
            yield server
    finally:
        if uses_postgres():
            database.__exit__(None, None, None)


def call(site, method, path, **kwargs):
    return requests.request(method, site.url + path, timeout=60, allow_redirects=False, **kwargs)


# --- /healthz ----------------------------------------------------------------
def test_healthz_answers_ok_in_json_and_text(site):
    as_json = call(site, "GET", "/healthz", headers={"Accept": "*/*"})  # curl's default
    assert as_json.status_code == 200
    assert as_json.json() == {"status": "ok"}
    assert as_json.headers["Content-Type"].startswith("application/json")
    assert call(site, "GET", "/healthz", headers={"Accept": ""}).json() == {"status": "ok"}
    as_text = call(site, "GET", "/healthz", headers={"Accept": "text/plain"})
    assert (as_text.status_code, as_text.text) == (200, "ok")
    assert as_text.headers["Content-Type"].startswith("text/plain")
    for response in (as_json, as_text):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Set-Cookie" not in response.headers


def test_healthz_with_a_trailing_slash_is_the_same(site):
    response = call(site, "GET", "/healthz/", headers={"Accept": "application/json"})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_head_has_the_status_and_no_body(site):
    response = call(site, "HEAD", "/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_healthz_refuses_other_methods_without_csrf_noise(site, method):
    response = call(site, method, "/healthz")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


# --- auth matrix -----------------------------------------------------------------
@pytest.mark.parametrize("path", DEBUG_PATHS)
def test_debug_views_ask_for_credentials(site, path):
    response = call(site, "GET", path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()
    wrong = call(site, "GET", path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    truncated = call(site, "GET", path, headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
    assert truncated.status_code == 403


@pytest.mark.parametrize("path", DEBUG_PATHS)
def test_debug_views_serve_the_token_with_safe_headers(site, path):
    response = call(site, "GET", path, headers=BEARER)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.status_code == 200
    assert response.json().get("error") is None
    head = call(site, "HEAD", path, headers=BEARER)
    assert (head.status_code, head.content) == (response.status_code, b"")


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_debug_views_refuse_other_methods(site, method):
    for path in ("/debug/r2/config", "/api/debug-storage-config/"):
        assert call(site, method, path, headers=BEARER).status_code == 405
        assert call(site, method, path).status_code == 405


def test_staff_session_is_let_in_and_plain_users_are_not(site):
    staff = staff_session(site.url)
    assert staff.get(f"{site.url}/debug/r2/config", timeout=60).status_code == 200
    plain = requests.Session()
    plain.cookies.set("sessionid", site.plain_session)
    assert plain.get(f"{site.url}/debug/r2/config", timeout=60).status_code == 401
    forged = requests.Session()
    forged.cookies.set("sessionid", "forged-session-id")
    assert forged.get(f"{site.url}/debug/r2/config", timeout=60).status_code == 401
    # A staff session with a wrong bearer token is refused: the header decides.
    refused = staff.get(
        f"{site.url}/debug/r2/config", timeout=60, headers={"Authorization": "Bearer wrong"}
    )
    assert refused.status_code == 403


# --- what the views say ------------------------------------------------------------
def test_config_view_shows_the_effective_storage_and_versions(site):
    body = call(site, "GET", "/debug/r2/config", headers=BEARER).json()
    default = body["storages"][0]
    assert default["alias"] == "default"
    assert default["bucket_name"] == site.bucket
    assert default["endpoint_url"] == site.endpoint_url
    assert {"access key id", "secret access key"} <= set(default["auth"]["set"])
    assert "session token" in default["auth"]["unset"]
    if HAS_FLEXIBLE_CHECKSUMS:
        assert default["client_config"]["request_checksum_calculation"] == "when_required"
    # url() gives the public domain, not the private endpoint or a signed URL.
    assert default["example_url"] == (
        f"{site.endpoint_url}/{site.bucket}/r2-toolkit-sample/example.jpg"
    )
    assert {"Django", "django-storages", "boto3", "botocore", "Pillow", "Python"} <= set(
        body["versions"]
    )
    assert body["other_storages"]["staticfiles"].endswith("StaticFilesStorage")


def test_seed_paths_answer_the_same_data(site):
    config = call(site, "GET", "/debug/r2/config", headers=BEARER).json()
    seed_config = call(site, "GET", "/api/debug-storage-config/", headers=BEARER).json()
    assert seed_config["storages"] == config["storages"]
    schema = call(site, "GET", "/debug/r2/schema", headers=BEARER)
    seed_schema = call(site, "GET", "/api/debug-database-schema/", headers=BEARER)
    assert seed_schema.status_code == schema.status_code
    assert seed_schema.json() == schema.json()


def test_checks_view_is_the_r2_check_document_without_the_round_trip(site):
    response = call(site, "GET", "/debug/r2/checks", headers=BEARER)
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == {"ok", "summary", "checks"}
    assert set(doc["summary"]) == {"pass", "warn", "fail", "skip"}
    assert sum(doc["summary"].values()) == len(doc["checks"])
    assert all(c["group"] != "roundtrip" for c in doc["checks"])
    for item in doc["checks"]:
        assert {"id", "group", "status", "message", "hint", "duration_ms", "details"} <= set(item)


def test_cors_view_reports_the_bucket_rules(site):
    response = call(site, "GET", "/debug/r2/cors", headers=BEARER)
    body = response.json()
    assert response.status_code == 200
    assert body.get("bucket") == site.bucket
    assert "PUT" in json.dumps(body["rules"])
    assert body.get("origins")


def test_schema_view_reports_the_image_table(site):
    response = call(site, "GET", "/debug/r2/schema", headers=BEARER)
    body = response.json()
    assert response.status_code == 200
    assert body.get("table")
    assert "storage_key" in json.dumps(body["columns"])


def test_unknown_storage_alias_is_a_plain_error(site):
    response = call(site, "GET", "/debug/r2/cors?storage=nope", headers=BEARER)
    assert response.status_code == 500
    assert "Traceback" not in response.text and "error" in response.json()


# --- no secret, no traceback, anywhere --------------------------------------------------
def test_no_response_of_any_endpoint_contains_a_secret(site):
    staff = staff_session(site.url)
    responses = []
    for path in ["/healthz", *DEBUG_PATHS, "/debug/r2/cors?storage=nope"]:
        for method in ["GET", "HEAD", "POST"]:
            for headers in (
                {},
                BEARER,
                {"Authorization": "Bearer wrong"},
                {"Accept": "application/json"},
            ):
                responses.append(call(site, method, path, headers=headers))
            responses.append(staff.request(method, site.url + path, timeout=60))
    secrets = [*SENTINELS.values()] + ([DB_PASSWORD] if uses_postgres() else [])
    for response in responses:
        seen = response.text + json.dumps(dict(response.headers))
        for secret in secrets:
            assert secret not in seen, (response.request.method, response.url)
        assert "Traceback" not in seen, response.url
