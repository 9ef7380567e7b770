"""How a backfill run starts: no probe object is ever written; on endpoints
documented to honour If-None-Match (R2, AWS S3) nothing but the uploads is
sent, elsewhere the first upload finds out; files too big for one PUT in
memory go multipart with equal parts."""

import collections

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from gallery.legacy import create_legacy_images
from gallery.models import UserImage
from r2_toolkit.migrations_r2 import multipart
from tests.conftest import reset_storage_cache
from tests.support.backfill import assert_row_migrated, backfill, keys_in, legacy_rows
from tests.support.netproxy import Proxy

pytestmark = pytest.mark.django_db
PROBE_PREFIX = "_r2_toolkit/"


def point_at_r2_through(proxy, server, settings):
    """Settings naming an R2 endpoint, in a new bucket of ``server``: the R2
    host name is never resolved, both clients reach the server through
    ``proxy``. Returns the bucket's name."""
    bucket = server.new_bucket_name()
    server.client().create_bucket(Bucket=bucket)
    settings.AWS_S3_ENDPOINT_URL = "http://acct.r2.cloudflarestorage.com"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_ACCESS_KEY_ID = server.access_key
    settings.AWS_SECRET_ACCESS_KEY = server.secret_key
    settings.AWS_S3_CLIENT_CONFIG = Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual"},
        proxies={"http": proxy.url},
    )
    return bucket


def test_on_an_r2_endpoint_a_run_sends_one_put_per_file_and_nothing_else(
    moto_server, media_root, settings
):
    create_legacy_images(5, media_root=media_root)
    with Proxy(moto_server.endpoint_url) as proxy:
        bucket = point_at_r2_through(proxy, moto_server, settings)
        settings.AWS_S3_REGION_NAME = "auto"
        settings.AWS_S3_CUSTOM_DOMAIN = "media.example.test"
        reset_storage_cache()
        result = backfill("--workers", "4")
    assert result.code == 0, result.stderr
    assert "through boto3" not in result.stderr or "BACKFILL_CLIENT" in result.stderr
    assert sorted(method for method, _ in proxy.requests) == ["PUT"] * 5
    stored = moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(item["Key"] for item in stored) == sorted(
        row.storage_key for row in UserImage.objects.all()
    )


def test_elsewhere_the_first_upload_finds_out_and_leaves_no_probe_object(
    moto_bucket, media_root, settings
):
    create_legacy_images(5, media_root=media_root)
    with Proxy(moto_bucket.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        reset_storage_cache()
        result = backfill("--workers", "4")
    assert result.code == 0, result.stderr
    # Until the server is known, an upload HEADs its key first. One of the
    # first uploads PUTs its file once more: moto answers 412, which proves it
    # honours If-None-Match, so the rest go out as one conditional PUT each.
    puts = collections.Counter(target for method, target in proxy.requests if method == "PUT")
    assert sorted(puts.values()) == [1, 1, 1, 1, 2]
    (found_out,) = [target for target, count in puts.items() if count == 2]
    assert proxy.requests.index(("HEAD", found_out)) < proxy.requests.index(("PUT", found_out))
    for method, target in proxy.requests:
        if method == "HEAD":  # never after that key's own PUT
            assert proxy.requests.index((method, target)) < proxy.requests.index(("PUT", target))
    assert not [key for key in keys_in(moto_bucket) if key.startswith(PROBE_PREFIX)]
    assert legacy_rows() == []


@pytest.mark.s3rver
def test_a_server_that_ignores_if_none_match_gets_a_head_before_every_put(
    s3rver_bucket, media_root, settings
):
    create_legacy_images(4, media_root=media_root)
    with Proxy(s3rver_bucket.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        reset_storage_cache()
        result = backfill("--workers", "2")
    assert result.code == 0, result.stderr
    heads = [path for method, path in proxy.requests if method == "HEAD"]
    puts = [path for method, path in proxy.requests if method == "PUT"]
    assert len(heads) == 4 and len(puts) == 5  # the first file's PUT went twice
    assert {path.split("?")[0] for path in puts} == set(heads)
    for row in UserImage.objects.all():
        assert_row_migrated(row, media_root, s3rver_bucket)


@pytest.fixture
def big_image(media_root, monkeypatch):
    """A legacy row whose 12 MB file is too big to keep in memory for one PUT."""
    from django.contrib.auth import get_user_model

    monkeypatch.setattr(multipart, "PART_SIZE", 5 * multipart.MIB)  # S3's smallest
    user = get_user_model().objects.create(username="alice")
    name = "users/alice/images/panorama.bmp"
    (media_root / name).parent.mkdir(parents=True)
    Image.effect_noise((2000, 2000), 64).convert("RGB").save(media_root / name)
    return UserImage.objects.create(user=user, image=name)


def test_a_file_too_big_for_one_put_goes_multipart_in_equal_parts(
    moto_bucket, media_root, big_image
):
    result = backfill()
    assert result.code == 0, result.stderr + result.stdout
    big_image.refresh_from_db()
    client, key = moto_bucket.client, big_image.storage_key
    head = client.head_object(Bucket=moto_bucket.name, Key=key)
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentType"] == "image/bmp"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    parts = [
        client.head_object(Bucket=moto_bucket.name, Key=key, PartNumber=n)["ContentLength"]
        for n in (1, 2, 3)
    ]
    assert parts == [5 * multipart.MIB, 5 * multipart.MIB, big_image.size_bytes - parts[0] * 2]
    assert_row_migrated(big_image, media_root, moto_bucket)


def test_a_multipart_upload_never_replaces_an_object_that_appeared_meanwhile(
    moto_bucket, media_root, big_image
):
    client, key = moto_bucket.client, big_image.image.name
    client.put_object(Bucket=moto_bucket.name, Key=key, Body=b"theirs")
    with pytest.raises(ClientError) as raised:
        multipart.upload(
            client,
            moto_bucket.name,
            key,
            media_root / key,
            {"ContentType": "image/bmp"},
            lambda call: call(),
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.get_object(Bucket=moto_bucket.name, Key=key)["Body"].read() == b"theirs"
    assert not client.list_multipart_uploads(Bucket=moto_bucket.name).get("Uploads")


@pytest.mark.parametrize("client", ["native", "boto3"])
def test_workers_is_the_number_of_requests_in_flight(moto_server, media_root, settings, client):
    # Files are read ahead of the uploads, but never more than --workers
    # requests are sent at once: on the native path as with boto3's threads.
    create_legacy_images(24, media_root=media_root)
    with Proxy(moto_server.endpoint_url, latency=0.05) as proxy:
        point_at_r2_through(proxy, moto_server, settings)  # known to honour If-None-Match
        settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "BACKFILL_CLIENT": client}
        reset_storage_cache()
        result = backfill("--workers", "3")
    assert result.code == 0, result.stderr
    assert proxy.counts["PUT"] == 24
    assert proxy.peak_in_flight == 3
    assert legacy_rows() == []


def test_a_bucket_that_cannot_be_written_stops_the_run_after_one_round(
    moto_server, media_root, settings
):
    from django.core.management.base import CommandError

    create_legacy_images(20, media_root=media_root)
    with Proxy(moto_server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        settings.AWS_STORAGE_BUCKET_NAME = moto_server.new_bucket_name()  # never created
        settings.AWS_ACCESS_KEY_ID = moto_server.access_key
        settings.AWS_SECRET_ACCESS_KEY = moto_server.secret_key
        reset_storage_cache()
        with pytest.raises(CommandError) as raised:
            backfill("--workers", "3")
    assert raised.value.returncode == 2
    assert "cannot write to the bucket" in str(raised.value)
    assert "NoSuchBucket" in str(raised.value)
    # At most the files in flight (two per worker) were tried, not every file.
    assert 1 <= proxy.counts["PUT"] <= 6
    assert len(legacy_rows()) == 20
