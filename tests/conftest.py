"""Shared fixtures: real S3 servers on loopback and settings pointing at a
fresh bucket on them."""

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
