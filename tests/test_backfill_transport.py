"""The backfill's direct PutObject (migrations_r2.transport) against real S3
servers: the same object as ``put_object`` stores, the same errors in the
same shape, and the client kept for what only the client can send."""

import base64
import hashlib
import io
import shutil

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, SSLError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery import emulator
from migrations_r2.bucket import client_config
from migrations_r2.transport import DirectPut
from migrations_r2.uploader import Uploader, is_precondition_failed, is_transient
from tests.support import servers
from tests.support.netproxy import Proxy

BODY = b"\xff\xd8\xff" + bytes(range(256)) * 40


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def put_args(key, body=BODY, **extra):
    return {
        "Key": key,
        "Body": body,
        "ContentType": "image/jpeg",
        "ContentMD5": md5_b64(body),
        "ContentLength": len(body),
        "IfNoneMatch": "*",
        **extra,
    }


OBJECT_PARAMETERS = {
    "CacheControl": "public, max-age=31536000, immutable",
    "ContentDisposition": 'inline; filename="cat.jpg"',
    "Metadata": {"legacy-name": "photos/cat.jpg"},
}


@pytest.mark.parametrize("server_fixture", ["moto_server", "s3rver_server"])
def test_direct_put_stores_what_put_object_stores(request, make_bucket, server_fixture):
    bucket = make_bucket(request.getfixturevalue(server_fixture))
    client = bucket.client
    direct = DirectPut.for_client(client, bucket.name)
    direct(Bucket=bucket.name, **put_args("direct/cat.jpg", **OBJECT_PARAMETERS))
    client.put_object(Bucket=bucket.name, **put_args("client/cat.jpg", **OBJECT_PARAMETERS))

    def seen(key):
        head = client.head_object(Bucket=bucket.name, Key=key)
        body = client.get_object(Bucket=bucket.name, Key=key)["Body"].read()
        fields = ("ContentType", "CacheControl", "ContentDisposition", "Metadata", "ETag")
        return body, {name: head.get(name) for name in fields}

    assert seen("direct/cat.jpg") == seen("client/cat.jpg")
    assert seen("direct/cat.jpg")[0] == BODY


def test_an_existing_key_answers_412_as_the_client_would(moto_bucket):
    direct = DirectPut.for_client(moto_bucket.client, moto_bucket.name)
    direct(Bucket=moto_bucket.name, **put_args("taken.jpg"))
    with pytest.raises(ClientError) as raised:
        direct(Bucket=moto_bucket.name, **put_args("taken.jpg", body=b"other bytes"))
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
    direct = DirectPut.for_client(moto_bucket.client, moto_bucket.name)
    direct(Bucket=moto_bucket.name, **put_args(key))
    listed = moto_bucket.client.list_objects_v2(Bucket=moto_bucket.name, Prefix=key)
    assert key in [item["Key"] for item in listed.get("Contents", [])]
    moto_bucket.client.delete_object(Bucket=moto_bucket.name, Key=key)


@pytest.mark.parametrize(
    "fault, expected",
    [("503", "SlowDown"), ("reset", None)],
)
def test_faults_raise_what_the_uploader_retries(moto_bucket, fault, expected):
    with Proxy(moto_bucket.server.endpoint_url, fault=lambda *_: fault) as proxy:
        client = emulator.client(
            proxy.url, moto_bucket.server.access_key, moto_bucket.server.secret_key
        )
        client.meta.config.retries = {"total_max_attempts": 1}
        direct = DirectPut.for_client(client, moto_bucket.name)
        with pytest.raises(Exception) as raised:
            direct(Bucket=moto_bucket.name, **put_args("faulty.jpg"))
    assert is_transient(raised.value), repr(raised.value)
    if expected:
        assert raised.value.response["Error"]["Code"] == expected


def test_parameters_botocore_transforms_stay_with_the_client(moto_bucket):
    direct = DirectPut.for_client(moto_bucket.client, moto_bucket.name)
    assert direct.accepts(OBJECT_PARAMETERS | {"ACL": "public-read", "StorageClass": "STANDARD"})
    assert not direct.accepts({"Expires": "2030-01-01"})  # a timestamp botocore formats
    assert not direct.accepts({"SSECustomerKey": "k" * 32})  # encoded and hashed by botocore
    assert not direct.accepts({"Metadata": {"name": "café"}})
    assert not direct.accepts({"NoSuchParameter": "x"})


def test_a_sigv2_client_gets_no_direct_path(moto_bucket):
    server = moto_bucket.server
    client = emulator.client(server.endpoint_url, server.access_key, server.secret_key)
    legacy = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3"),
    )
    assert DirectPut.for_client(legacy, moto_bucket.name) is None
    assert DirectPut.for_client(client, moto_bucket.name) is not None


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return {"ETag": f'"{Probed.md5_hex}"'}

    def accepts(self, params):
        return "Expires" not in params


class Probed:
    mime_type, size, body = "image/jpeg", len(BODY), BODY
    md5_hex = hashlib.md5(BODY).hexdigest()
    content_md5 = md5_b64(BODY)

    def open(self):
        return io.BytesIO(BODY)


class Streamed(Probed):
    body = None  # too big to keep in memory: read from disk by the client


class FakeClient:
    def __init__(self):
        self.put_object = Recorder()


@pytest.mark.parametrize(
    "probed, params, path",
    [
        (Probed(), {}, "direct"),
        (Streamed(), {}, "client"),
        (Probed(), {"Expires": "2030-01-01"}, "client"),
    ],
)
def test_the_uploader_takes_the_direct_path_only_for_bodies_in_memory(probed, params, path):
    client, direct = FakeClient(), Recorder()
    outcome = Uploader(client, "b", {}, direct_put=direct).upload("k.jpg", probed, params)
    assert outcome.status == "uploaded"
    used = direct if path == "direct" else client.put_object
    assert len(used.calls) == 1
    assert (
        (used.calls[0]["Body"] == BODY)
        if path == "direct"
        else hasattr(used.calls[0]["Body"], "read")
    )


@pytest.fixture(scope="module")
def https_moto(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    certificate, key = servers.self_signed_certificate(tmp_path_factory.mktemp("tls"))
    server = servers.start_moto(tls=(certificate, key))
    server.certificate = certificate
    yield server
    server.stop()


def https_client(server, verify):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        verify=verify,
        config=client_config(None, 4),
    )


def test_over_https_the_direct_path_uses_the_clients_certificate_settings(https_moto):
    # R2 is HTTPS only: the direct path must trust what the client trusts, no more.
    trusting = https_client(https_moto, str(https_moto.certificate))
    trusting.create_bucket(Bucket="tls")
    DirectPut.for_client(trusting, "tls")(Bucket="tls", **put_args("over-tls.jpg"))
    stored = trusting.get_object(Bucket="tls", Key="over-tls.jpg")["Body"].read()
    assert stored == BODY

    default_trust = https_client(https_moto, None)  # the self-signed certificate is unknown
    with pytest.raises(SSLError):
        DirectPut.for_client(default_trust, "tls")(Bucket="tls", **put_args("refused.jpg"))


@pytest.mark.parametrize(
    "style, prefix",
    [
        ("path", "https://account.r2.cloudflarestorage.com/media/"),
        ("virtual", "https://media.account.r2.cloudflarestorage.com/"),
    ],
)
def test_objects_are_addressed_as_the_client_addresses_them(style, prefix):
    client = boto3.client(
        "s3",
        endpoint_url="https://account.r2.cloudflarestorage.com",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
        region_name="auto",
        config=Config(s3={"addressing_style": style}, signature_version="s3v4"),
    )
    assert DirectPut.for_client(client, "media").url_prefix == prefix
