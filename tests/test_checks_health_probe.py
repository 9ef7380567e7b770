"""r2.settings.health_probe: the probe's mode is one it knows, every alias it
names is an S3 storage in STORAGES, and a get:/public: object is inside the
storage; each refusal is a failed check with the setting to write. And where
django-prometheus is installed, its /metrics carries the probe's series."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from r2_toolkit import checks  # noqa: F401  (registers every check)
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import run_checks
from tests.conftest import reset_storage_cache
from tests.support.servers import manage_env, run_manage

S3 = {"BACKEND": "storages.backends.s3.S3Storage"}


@pytest.fixture(autouse=True)
def fresh_storages():
    reset_storage_cache()
    yield
    reset_storage_cache()


def probe_check(settings, probe):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PROBE": probe}
    (result,) = run_checks([REGISTRY["r2.settings.health_probe"]], timeout=10)
    return result


@pytest.mark.parametrize(
    "probe",
    ["head_bucket", "list", "get:health/ping.txt", "public:ping.txt", {"default": "list"}],
)
def test_every_mode_the_probe_knows_passes(settings, probe):
    result = probe_check(settings, probe)
    assert result.status == "pass", result.message
    assert "default" in result.message


@pytest.mark.parametrize("probe", ["gett:ping.txt", "get:", "HEAD", {"default": "put:x"}, 5])
def test_a_mode_the_probe_does_not_know_fails_with_the_modes(settings, probe):
    result = probe_check(settings, probe)
    assert result.status == "fail"
    assert result.message.startswith('R2_TOOLKIT["HEALTH_PROBE"]')
    assert all(mode in result.hint for mode in ('"head_bucket"', '"list"', '"get:<name>"'))


def test_an_alias_that_is_not_an_s3_storage_fails_naming_the_aliases(settings):
    settings.STORAGES = {**settings.STORAGES, "private": S3}
    result = probe_check(settings, {"defualt": "list", "private": "get:ping.txt"})
    assert result.status == "fail"
    assert "'defualt', which is not an S3 alias" in result.message
    assert "the S3 aliases are: default, private" in result.message
    assert "{'private': 'get:ping.txt'}" in result.hint  # the entries that were right, kept


def test_a_non_s3_alias_is_refused_too(settings):
    result = probe_check(settings, {"default": "list", "staticfiles": "list"})
    assert result.status == "fail" and "'staticfiles'" in result.message


def test_an_object_name_outside_the_location_fails(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {**S3, "OPTIONS": {"location": "media"}}}
    result = probe_check(settings, "get:../elsewhere/ping.txt")
    assert result.status == "fail"
    assert "get:../elsewhere/ping.txt" in result.message and "escapes" in result.message
    assert probe_check(settings, "get:health/ping.txt").status == "pass"


# --- django-prometheus: the toolkit's collector joins its registry ------------------

SCRAPE = """
from django.test import Client
response = Client().get("/prometheus/metrics", HTTP_HOST="localhost")
print(response.status_code)
print(response.content.decode())
"""


def test_django_prometheus_metrics_carry_the_probe_series(moto_bucket, tmp_path):
    """A site with django_prometheus in INSTALLED_APPS (its own /metrics, its
    own registry, the default one): a scrape of django-prometheus's URL, read
    by prometheus_client's own parser, holds the probe's three families beside
    django-prometheus's, and the toolkit's /metrics still serves only its own."""
    pytest.importorskip("django_prometheus")
    env = manage_env(
        moto_bucket.server,
        moto_bucket.name,
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.prometheus_settings",
    )
    done = run_manage("shell", "-v0", "-c", SCRAPE, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    status, body = done.stdout.split("\n", 1)
    assert status == "200"
    families = {family.name: family for family in text_string_to_metric_families(body)}
    assert {"r2_probe_up", "r2_probe_duration_seconds"} <= set(families)
    assert "r2_probe_last_success_timestamp_seconds" in families
    assert any(name.startswith("django_") for name in families), "django-prometheus's own"
    (up,) = families["r2_probe_up"].samples
    assert up.labels == {"alias": "default"} and up.value == 1.0
