"""``R2_TOOLKIT["HEALTH_PROBE"]``: what the readiness probe asks each alias,
seen at a counting proxy in front of real moto (and a second proxy standing
in for the public domain). Never a write; each alias inside the deadline."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.health import HealthProbe
from tests.support import servers
from tests.support.netproxy import Proxy

READS = {"GET", "HEAD"}
DEADLINE, MARGIN = 1.0, 3.0


@pytest.fixture
def proxied(settings, moto_bucket):
    """The settings' endpoint goes through a counting proxy; the public
    domain through another; one known object in the bucket."""
    moto_bucket.client.put_object(
        Bucket=moto_bucket.name, Key="health/ping.txt", Body=b"x" * 200_000, ACL="public-read"
    )
    with (
        Proxy(moto_bucket.server.endpoint_url) as api,
        Proxy(moto_bucket.server.endpoint_url) as domain,
    ):
        settings.AWS_S3_ENDPOINT_URL = api.url
        settings.AWS_S3_CUSTOM_DOMAIN = f"{domain.url.split('://', 1)[1]}/{moto_bucket.name}"
        api.domain, api.bucket = domain, moto_bucket
        yield api


def probe_with(settings, mode, **extra):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PROBE": mode, **extra}
    return HealthProbe(ttl=60, timeout=5)


@pytest.mark.parametrize(
    "mode, method, target",
    [
        ("head_bucket", "HEAD", "/{bucket}"),
        ("list", "GET", "/{bucket}?list-type=2&max-keys=1"),
        ("get:health/ping.txt", "GET", "/{bucket}/health/ping.txt"),
    ],
)
def test_each_mode_is_one_read_of_the_bucket(settings, proxied, mode, method, target):
    probe = probe_with(settings, mode)
    proxied.reset_counts()
    assert probe.is_healthy() is True
    assert len(proxied.requests) == 1, proxied.requests
    seen_method, seen_target = proxied.requests[0]
    assert seen_method == method
    expected = target.format(bucket=proxied.bucket.name)
    path, _, query = seen_target.partition("?")
    assert path == expected.partition("?")[0]
    assert set(expected.partition("?")[2].split("&")) - {""} <= set(query.split("&"))
    assert proxied.domain.requests == []


def test_public_mode_reads_through_the_public_domain_without_credentials(settings, proxied):
    probe = probe_with(settings, "public:health/ping.txt")
    proxied.reset_counts()
    assert probe.is_healthy() is True
    assert proxied.requests == []  # not the S3 API at all
    assert proxied.domain.requests == [("GET", f"/{proxied.bucket.name}/health/ping.txt")]


@pytest.mark.parametrize("mode", ["get:health/absent.txt", "public:health/absent.txt"])
def test_a_known_object_that_is_gone_is_down(settings, proxied, mode):
    assert probe_with(settings, mode).status().status == "fail"


def test_a_token_without_head_bucket_is_ready_with_list(settings, proxied):
    """HeadBucket refused (an object-scoped token): head_bucket says down,
    list says up; the probe never writes either way."""
    proxied.fault = lambda method, path, n: "503" if method == "HEAD" else None
    assert probe_with(settings, "head_bucket").is_healthy() is False
    assert probe_with(settings, "list").is_healthy() is True
    assert {method for method, _ in proxied.requests} <= READS


def test_a_name_escaping_the_location_is_never_asked_for(settings, proxied):
    settings.AWS_LOCATION = "media"
    proxied.reset_counts()
    assert probe_with(settings, "get:../secrets/key.pem").is_healthy() is False
    assert proxied.requests == []


def test_every_alias_is_probed_default_first_each_in_its_mode(settings, proxied):
    other = proxied.bucket.server.new_bucket_name("second")
    proxied.bucket.client.create_bucket(Bucket=other)
    settings.STORAGES = {
        "private": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": other}},
        **settings.STORAGES,
    }
    probe = probe_with(settings, {"private": "list"})
    proxied.reset_counts()
    snapshot = probe.status()
    assert [(r.alias, r.mode, r.ok) for r in snapshot.results] == [
        ("default", "head_bucket", True),
        ("private", "list", True),
    ]
    seen = {(method, target.split("?")[0]) for method, target in proxied.requests}
    assert seen == {("HEAD", f"/{proxied.bucket.name}"), ("GET", f"/{other}")}
    assert any("max-keys=1" in target for method, target in proxied.requests if method == "GET")
    assert snapshot.status == "pass"


def test_a_hanging_second_alias_is_warn_within_the_deadline(settings, moto_bucket):
    with servers.HangingServer() as hanging:
        settings.STORAGES = {
            **settings.STORAGES,
            "archive": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "archive", "endpoint_url": hanging.url},
            },
        }
        probe = HealthProbe(ttl=60, timeout=DEADLINE)
        started = time.monotonic()
        snapshot = probe.status()
        assert time.monotonic() - started <= DEADLINE + MARGIN
        assert hanging.held, "the second alias was never asked"
    assert snapshot.status == "warn" and snapshot.healthy
    archive = snapshot.results[1]
    assert (archive.alias, archive.ok) == ("archive", False)
    assert archive.duration == pytest.approx(DEADLINE, abs=0.5)
    assert probe.statistics()["archive"].last_success is None
    assert probe.statistics()["default"].last_success is not None


@pytest.mark.parametrize("value", ["put:x", "get:", "public: ", "HEAD", 3])
def test_a_mode_that_is_not_a_read_is_refused_with_the_fix(settings, value):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PROBE": value}
    with pytest.raises(ImproperlyConfigured, match=r'R2_TOOLKIT\["HEALTH_PROBE"\].*"list"'):
        toolkit_settings.cast("HEALTH_PROBE")
