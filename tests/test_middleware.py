"""HealthCheckMiddleware in-process: which paths it answers, under which
setting, and that everything else still meets host validation. (Through
gunicorn with a probe's Host header: tests/test_status_page.py.)"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.health import probe
from r2_toolkit.toolkit.middleware import health_paths

PROBE = {"HTTP_HOST": "10.0.0.7:8000", "HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def fresh_probe():
    probe.forget()
    yield
    probe.forget()


def test_the_reference_settings_put_it_first(settings):
    assert settings.MIDDLEWARE[0] == "r2_toolkit.toolkit.middleware.HealthCheckMiddleware"


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_healthz_answers_a_host_outside_allowed_hosts(moto_bucket, path):
    response = Client().get(path, **PROBE)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_configured_health_path_is_answered_and_the_rest_validated(settings, moto_bucket):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PATH": "/ops/live/"}
    client = Client()
    for path in ("/ops/live", "/ops/live/"):
        response = client.get(path, **PROBE)
        assert (response.status_code, response.json()) == (200, {"status": "ok"}), path
    # /healthz is now only the URL route, behind host validation.
    assert client.get("/healthz", **PROBE).status_code == 400
    assert client.get("/healthz", HTTP_ACCEPT="application/json").status_code == 200


def test_an_unreachable_bucket_is_503_not_400(settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.AWS_STORAGE_BUCKET_NAME = "absent"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_TIMEOUT": 1}
    response = Client().get("/healthz", **PROBE)
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


@pytest.mark.parametrize("value", ["healthz", "", "/healthz?x=1"])
def test_a_health_path_that_is_not_a_path_is_refused_with_the_fix(settings, value):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PATH": value}
    with pytest.raises(ImproperlyConfigured, match=r'R2_TOOLKIT\["HEALTH_PATH"\].*"/healthz"'):
        toolkit_settings.cast("HEALTH_PATH")


def test_health_paths_with_and_without_the_slash():
    assert health_paths("/healthz") == {"/healthz", "/healthz/"}
    assert health_paths("/healthz/") == {"/healthz", "/healthz/"}
    assert health_paths("/") == {"/"}


def test_under_a_url_prefix_the_middleware_answers_the_full_path_only(settings, moto_bucket):
    settings.ROOT_URLCONF = "tests.other_project.urls"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PATH": "/ops/healthz"}
    client = Client()
    assert client.get("/ops/healthz", **PROBE).json() == {"status": "ok"}
    assert client.get("/ops/healthz", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/healthz", HTTP_ACCEPT="application/json").status_code == 404


def test_an_invalid_health_path_stops_the_site_at_boot_not_per_request(settings):
    from r2_toolkit.toolkit.middleware import HealthCheckMiddleware

    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PATH": "healthz"}
    with pytest.raises(ImproperlyConfigured, match="HEALTH_PATH"):
        HealthCheckMiddleware(lambda request: None)


def test_livez_and_readyz_follow_the_health_path_s_directory(settings, moto_bucket):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PATH": "/ops/healthz"}
    client = Client()
    for path in ("/ops/livez", "/ops/readyz/", "/ops/healthz"):
        response = client.get(path, **PROBE)
        assert (response.status_code, response.json()) == (200, {"status": "ok"}), path
    # The root ones are now only URL routes, behind host validation.
    assert client.get("/livez", **PROBE).status_code == 400
    assert client.get("/livez", HTTP_ACCEPT="application/json").status_code == 200


def test_health_routes_name_the_siblings():
    from r2_toolkit.toolkit.middleware import health_routes
    from r2_toolkit.toolkit.views import healthz, livez, readyz

    routes = health_routes("/healthz")
    assert {path: view.__name__ for path, view in routes.items()} == {
        "/healthz": healthz.__name__,
        "/healthz/": healthz.__name__,
        "/livez": livez.__name__,
        "/livez/": livez.__name__,
        "/readyz": readyz.__name__,
        "/readyz/": readyz.__name__,
    }
    assert set(health_routes("/")) == {"/", "/livez", "/livez/", "/readyz", "/readyz/"}
