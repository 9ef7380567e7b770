"""The backfill's native upload path (migrations_r2.native, obstore) against
real S3 servers: the same object as boto3's ``put_object`` stores, errors in
the client's shape, its configuration taken from the storage settings (TLS
with a private CA, path or virtual addressing, session tokens, proxies), and
boto3 kept for what it cannot express."""

import base64
import hashlib
import io
import shutil

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r2_toolkit.migrations_r2.bucket import open_bucket
from r2_toolkit.migrations_r2.native import NativePut, TransportError, open_native, store_options
from r2_toolkit.migrations_r2.retries import is_transient
from r2_toolkit.migrations_r2.uploader import Uploader, is_precondition_failed
from tests.conftest import reset_storage_cache
from tests.support import servers
from tests.support.netproxy import Proxy
from tests.support.scripted_s3 import scripted

BODY = b"\xff\xd8\xff" + bytes(range(256)) * 40
OBJECT_PARAMETERS = {
    "CacheControl": "public, max-age=31536000, immutable",
    "ContentDisposition": 'inline; filename="cat.jpg"',
    "Metadata": {"legacy-name": "photos/cat.jpg"},
}


def native_put():
    """The NativePut the backfill builds from the current settings."""
    bucket = open_bucket(4)
    native, reason = open_native(bucket.storage, bucket.name)
    assert native is not None, reason
    return native


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize("server_fixture", ["moto_server", "s3rver_server"])
def test_native_put_stores_what_put_object_stores(request, make_bucket, server_fixture):
    bucket = make_bucket(request.getfixturevalue(server_fixture))
    client = bucket.client
    etag = native_put().put("native/cat.jpg", BODY, "image/jpeg", OBJECT_PARAMETERS)
    client.put_object(
        Bucket=bucket.name,
        Key="client/cat.jpg",
        Body=BODY,
        ContentType="image/jpeg",
        ContentMD5=md5_b64(BODY),
        **OBJECT_PARAMETERS,
    )

    def seen(key):
        head = client.head_object(Bucket=bucket.name, Key=key)
        body = client.get_object(Bucket=bucket.name, Key=key)["Body"].read()
        fields = ("ContentType", "CacheControl", "ContentDisposition", "Metadata", "ETag")
        return body, {name: head.get(name) for name in fields}

    assert seen("native/cat.jpg") == seen("client/cat.jpg")
    assert seen("native/cat.jpg")[0] == BODY
    assert etag == hashlib.md5(BODY).hexdigest()


def test_an_existing_key_answers_412_as_the_client_would(moto_bucket):
    native = native_put()
    native.put("taken.jpg", BODY, "image/jpeg", {})
    with pytest.raises(ClientError) as raised:
        native.put("taken.jpg", b"other bytes", "image/jpeg", {})
    assert is_precondition_failed(raised.value)
    assert raised.value.response["Error"]["Code"] == "PreconditionFailed"
    stored = moto_bucket.client.get_object(Bucket=moto_bucket.name, Key="taken.jpg")
    assert stored["Body"].read() == BODY, "never overwritten"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(
        st.characters(blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=60,
        # The key scheme never makes empty, "." or ".." segments (test_backfill_keys).
    ).filter(lambda k: all(segment.strip(".") for segment in k.split("/")))
)
def test_any_key_lands_under_exactly_that_name(moto_bucket, key):
    native_put().put(key, BODY, "image/jpeg", {})
    listed = moto_bucket.client.list_objects_v2(Bucket=moto_bucket.name, Prefix=key)
    assert key in [item["Key"] for item in listed.get("Contents", [])]
    moto_bucket.client.delete_object(Bucket=moto_bucket.name, Key=key)


@pytest.mark.parametrize("fault, expected", [("503", "SlowDown"), ("reset", None)])
def test_faults_raise_what_the_uploader_retries(moto_bucket, settings, fault, expected):
    with Proxy(moto_bucket.server.endpoint_url, fault=lambda *_: fault) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        reset_storage_cache()
        with pytest.raises((ClientError, TransportError)) as raised:
            native_put().put("faulty.jpg", BODY, "image/jpeg", {})
    assert is_transient(raised.value), repr(raised.value)
    if expected:
        assert raised.value.response["Error"]["Code"] == expected


def test_parameters_it_cannot_send_stay_with_boto3():
    assert NativePut.refuses(OBJECT_PARAMETERS | {"StorageClass": "STANDARD"}) is None
    assert "ACL" in NativePut.refuses({"ACL": "public-read"})
    assert "Expires" in NativePut.refuses({"Expires": "2030-01-01"})
    assert "SSECustomerKey" in NativePut.refuses({"SSECustomerKey": "k" * 32})
    assert "ASCII" in NativePut.refuses({"Metadata": {"name": "café"}})


@pytest.mark.parametrize("client_config", [False, True])
def test_sigv2_settings_get_no_native_client(moto_bucket, settings, client_config):
    from botocore.config import Config

    if client_config:
        settings.AWS_S3_CLIENT_CONFIG = Config(signature_version="s3")
    else:
        settings.AWS_S3_CLIENT_CONFIG = None
        settings.AWS_S3_SIGNATURE_VERSION = "s3"
    reset_storage_cache()
    bucket = open_bucket(4)
    native, reason = open_native(bucket.storage, bucket.name)
    assert native is None and "only boto3 signs" in reason


class Probed:
    path = "unused"
    mime_type, size, body = "image/jpeg", len(BODY), BODY
    md5_hex = hashlib.md5(BODY).hexdigest()
    content_md5 = md5_b64(BODY)

    def open(self):
        return io.BytesIO(BODY)


class Recorder:
    signs_payload = True

    def __init__(self):
        self.calls = []

    def put(self, key, body, content_type, params):
        self.calls.append((key, body, params))
        return Probed.md5_hex

    refuses = staticmethod(NativePut.refuses)


class FakeClient:
    def __init__(self):
        self.calls = []

    def head_object(self, **kwargs):  # pragma: no cover - the uploader knows If-None-Match works
        raise AssertionError("no HEAD expected")

    def put_object(self, **kwargs):
        self.calls.append(kwargs)
        return {"ETag": f'"{Probed.md5_hex}"'}


@pytest.mark.parametrize(
    "params, path", [({}, "native"), ({"Expires": "2030-01-01"}, "boto3"), ({"ACL": "x"}, "boto3")]
)
def test_the_uploader_sends_natively_what_the_native_client_can_express(params, path):
    client, native = FakeClient(), Recorder()
    outcome = Uploader(client, "b", {}, native=native).upload("k.jpg", Probed(), params)
    assert outcome.status == "uploaded"
    assert len(native.calls if path == "native" else client.calls) == 1
    assert len(client.calls if path == "native" else native.calls) == 0


# --- configuration mapped from the storage settings


@pytest.fixture(scope="module")
def https_moto(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    ca, certificate, key = servers.certificate_authority(tmp_path_factory.mktemp("tls"))
    server = servers.start_moto(tls=(certificate, key))
    server.certificate = ca
    yield server
    server.stop()


def point_at_https(settings, server, verify):
    settings.AWS_S3_ENDPOINT_URL = server.endpoint_url
    settings.AWS_STORAGE_BUCKET_NAME = "tls"
    settings.AWS_ACCESS_KEY_ID = server.access_key
    settings.AWS_SECRET_ACCESS_KEY = server.secret_key
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_S3_VERIFY = verify
    reset_storage_cache()


def test_over_https_it_trusts_the_ca_bundle_the_settings_name_and_no_more(https_moto, settings):
    # R2 is HTTPS only: the native path must trust what boto3 trusts, no more.
    point_at_https(settings, https_moto, str(https_moto.certificate))
    bucket = open_bucket(4)
    bucket.client.create_bucket(Bucket="tls")
    native_put().put("over-tls.jpg", BODY, "image/jpeg", {})
    assert bucket.client.get_object(Bucket="tls", Key="over-tls.jpg")["Body"].read() == BODY

    point_at_https(settings, https_moto, None)  # the throwaway CA is unknown to the system
    with pytest.raises(TransportError):
        native_put().put("refused.jpg", BODY, "image/jpeg", {})

    point_at_https(settings, https_moto, False)  # AWS_S3_VERIFY = False: as boto3, unchecked
    native_put().put("unchecked.jpg", BODY, "image/jpeg", {})


@pytest.mark.parametrize("written_as", ["settings", "client config"])
@pytest.mark.parametrize(
    "style, target",
    [
        ("path", "http://acct.r2.cloudflarestorage.com/media/cat.jpg"),
        ("virtual", "http://media.acct.r2.cloudflarestorage.com/cat.jpg"),
    ],
)
def test_objects_are_addressed_as_boto3_addresses_them(
    moto_server, settings, style, target, written_as
):
    from botocore.config import Config

    # Requests for an R2 host name go through the proxy, which forwards them to moto.
    with Proxy(moto_server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = "http://acct.r2.cloudflarestorage.com"
        settings.AWS_STORAGE_BUCKET_NAME = "media"
        if written_as == "settings":
            settings.AWS_S3_CLIENT_CONFIG = None
            settings.AWS_S3_ADDRESSING_STYLE = style
            settings.AWS_S3_PROXIES = {"http": proxy.url}
        else:  # with a client config, django-storages ignores those two settings
            settings.AWS_S3_CLIENT_CONFIG = Config(
                signature_version="s3v4",
                s3={"addressing_style": style},
                proxies={"http": proxy.url},
            )
        reset_storage_cache()
        bucket = open_bucket(4)
        with pytest.raises(ClientError):  # moto takes "acct" for the bucket: no matter
            bucket.client.head_object(Bucket="media", Key="cat.jpg")
        try:
            native_put().put("cat.jpg", BODY, "image/jpeg", {})
        except ClientError:
            pass
    assert [t for _, t in proxy.requests] == [target, target]


def test_session_tokens_are_sent_as_boto3_sends_them(settings):
    etag = {"ETag": f'"{hashlib.md5(BODY).hexdigest()}"'}
    with scripted(settings, {("PUT", ""): (200, b"", etag)}) as server:
        settings.AWS_SESSION_TOKEN = "the-session-token"
        reset_storage_cache()
        native_put().put("cat.jpg", BODY, "image/jpeg", {})
    (headers,) = server.headers
    assert headers["x-amz-security-token"] == "the-session-token"
    assert "Credential=scripted-access/" in headers["authorization"]
    assert headers["if-none-match"] == "*"


def test_timeouts_region_and_plain_http_are_what_boto3_gets(moto_bucket, settings):
    settings.AWS_S3_REGION_NAME = "auto"
    reset_storage_cache()
    bucket = open_bucket(4)
    options = store_options(bucket.storage, bucket.name)
    client, boto3_config = options["client_options"], bucket.client.meta.config
    assert client["connect_timeout"].total_seconds() == boto3_config.connect_timeout
    assert client["timeout"].total_seconds() >= boto3_config.read_timeout
    assert client["allow_http"] is True
    assert options["region"] == "auto" and options["endpoint"] == moto_bucket.server.endpoint_url
    assert options["virtual_hosted_style_request"] is False


@pytest.mark.django_db
def test_boto3_can_be_chosen_and_a_wrong_choice_is_one_sentence(moto_bucket, media_root, settings):
    from django.core.management.base import CommandError

    from gallery.legacy import create_legacy_images
    from tests.support.backfill import backfill, legacy_rows

    create_legacy_images(2, media_root=media_root)
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "BACKFILL_CLIENT": "fastest"}
    with pytest.raises(CommandError) as raised:
        backfill()
    assert raised.value.returncode == 2
    assert "R2_TOOLKIT[\"BACKFILL_CLIENT\"] is 'fastest'" in str(raised.value)
    assert "native, boto3" in str(raised.value)

    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "BACKFILL_CLIENT": "boto3"}
    result = backfill()
    assert result.code == 0
    assert 'uploading through boto3: R2_TOOLKIT["BACKFILL_CLIENT"] is "boto3"' in result.stderr
    assert legacy_rows() == []
