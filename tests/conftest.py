"""Shared fixtures: real S3 servers on loopback and settings pointing at a
fresh bucket on them."""

import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from django.core.files import storage as django_storage
from django.utils.functional import empty

from gallery import emulator
from tests.support import servers

ORIGIN = "https://app.example.test"


def reset_storage_cache():
    """Forget storage instances built under earlier settings, as a freshly
    started process would (the toolkit's own check reports stale ones)."""
    django_storage.storages._storages = {}
    django_storage.default_storage._wrapped = empty


@pytest.fixture
def media_root(settings, tmp_path):
    """An empty MEDIA_ROOT of the test's own."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture(scope="session")
def moto_server():
    server = servers.start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3rver_server():
    server = servers.start_s3rver()
    yield server
    server.stop()
    server.cleanup()


@dataclass
class Bucket:
    server: servers.S3Server
    name: str

    @property
    def client(self):
        return self.server.client()

    @property
    def public_base(self):
        return f"{self.server.endpoint_url}/{self.name}"


def point_settings_at(settings, server, bucket, origins=(ORIGIN,)):
    """Make the Django settings describe ``bucket`` on ``server``."""
    settings.AWS_S3_ENDPOINT_URL = server.endpoint_url
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_ACCESS_KEY_ID = server.access_key
    settings.AWS_SECRET_ACCESS_KEY = server.secret_key
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_S3_CUSTOM_DOMAIN = f"{server.endpoint_url.split('://', 1)[1]}/{bucket}"
    settings.AWS_S3_URL_PROTOCOL = "http:"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": list(origins)}
    reset_storage_cache()


@pytest.fixture
def make_bucket(settings):
    """Create a fresh bucket on a server and point the settings at it.

    ``make_bucket(server, cors=True, public=True, origins=(ORIGIN,))``
    """

    def make(server, *, cors=True, public=True, origins=(ORIGIN,)):
        name = server.new_bucket_name()
        emulator.provision(
            server.client(), name, origins, public=public and server.kind == "moto", cors=cors
        )
        point_settings_at(settings, server, name, origins)
        return Bucket(server, name)

    yield make
    reset_storage_cache()


@pytest.fixture
def moto_bucket(make_bucket, moto_server):
    return make_bucket(moto_server)


@pytest.fixture
def s3rver_bucket(make_bucket, s3rver_server):
    return make_bucket(s3rver_server)


# --- an R2-faithful server (tests/support/r2_faithful.py) --------------------
@pytest.fixture(scope="session")
def r2_server(moto_server):
    """The session's moto behind a layer that refuses what R2 refuses."""
    from tests.support.r2_faithful import R2Faithful

    with R2Faithful(moto_server.endpoint_url, object_only_keys={OBJECT_ONLY_KEY}) as server:
        server.access_key, server.secret_key = moto_server.access_key, moto_server.secret_key
        yield server


OBJECT_ONLY_KEY = "objectonly0123456789abcdef012345"  # an 'Object Read & Write' token


@dataclass
class R2Bucket:
    """A bucket on the R2-faithful server, reached as R2 is: through the R2 host
    name ``https://<account>.r2.cloudflarestorage.com`` (over plain http, via the
    server acting as HTTP proxy), region ``auto``, public through a custom domain."""

    server: object
    name: str

    @property
    def client(self):
        return emulator.client(self.server.url, self.server.access_key, self.server.secret_key)

    @property
    def public_base(self):
        return f"{self.server.url}/{self.name}"


def point_settings_at_r2(settings, monkeypatch, server, bucket, origins=(ORIGIN,)):
    # R2 host names go through the server acting as proxy; loopback (the custom
    # domain, the server's own URL) is reached directly.
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, server.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    urllib.request.install_opener(None)  # urlopen's opener reads the proxies anew
    settings.AWS_S3_ENDPOINT_URL = server.r2_endpoint()
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_ACCESS_KEY_ID = server.access_key
    settings.AWS_SECRET_ACCESS_KEY = server.secret_key
    settings.AWS_S3_REGION_NAME = "auto"
    settings.AWS_S3_CUSTOM_DOMAIN = f"{server.url.split('://', 1)[1]}/{bucket}"
    settings.AWS_S3_URL_PROTOCOL = "http:"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": list(origins)}
    reset_storage_cache()


@pytest.fixture
def r2_bucket(settings, monkeypatch, r2_server):
    """A fresh bucket on the R2-faithful server, provisioned as a public R2 bucket
    (CORS for ORIGIN, public read), and the settings pointing at it."""
    bucket = R2Bucket(r2_server, f"r2-{uuid.uuid4().hex[:16]}")
    emulator.provision(bucket.client, bucket.name, (ORIGIN,))
    point_settings_at_r2(settings, monkeypatch, r2_server, bucket.name)
    yield bucket
    reset_storage_cache()
    monkeypatch.undo()  # the proxy variables go before the opener is rebuilt without them
    urllib.request.install_opener(None)
