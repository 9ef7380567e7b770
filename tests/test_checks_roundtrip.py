"""The round-trip against real S3 servers on loopback (moto's server mode and
s3rver): it passes on a healthy public bucket, fails for each real cause in
words, and never leaves a probe object behind unless asked to."""

import json
import uuid

import pytest
from storages.backends.s3 import S3Storage

from r2_toolkit.checks.registry import select
from r2_toolkit.checks.runner import run_checks
from tests.conftest import ORIGIN
from tests.support.servers import manage_env, run_manage

ROUNDTRIP_IDS = [c.id for c in select() if c.group == "roundtrip"]
PREFIX = "_r2_toolkit/probe/"


def roundtrip(keep=False):
    results = run_checks(select(only=ROUNDTRIP_IDS), aliases=["default"], timeout=20, keep=keep)
    return {r.id.rsplit(".", 1)[1]: r for r in results}


def objects(bucket):
    listing = bucket.client.list_objects_v2(Bucket=bucket.name)
    return [item["Key"] for item in listing.get("Contents", [])]


def statuses(results):
    return {step: r.status for step, r in results.items()}


@pytest.mark.parametrize("server", ["moto", pytest.param("s3rver", marks=pytest.mark.s3rver)])
def test_healthy_public_bucket_passes_every_step_and_leaves_nothing(server, request):
    bucket = request.getfixturevalue(f"{server}_bucket")
    results = roundtrip()
    assert set(statuses(results).values()) == {"pass"}, {s: r.message for s, r in results.items()}
    assert "Cache-Control 'public, max-age=31536000, immutable'" in results["headers"].message
    assert f"presigned PUT from {ORIGIN} landed" in results["presigned_put"].message
    steps = results["upload"].details["steps"]
    assert {"save_ms", "read_ms", "public_get_ms", "presigned_put_ms", "delete_ms"} <= set(steps)
    assert len(results["cleanup"].details["deleted"]) == 2
    assert objects(bucket) == []


def test_private_bucket_fails_the_public_url_step_in_words_and_still_cleans_up(
    make_bucket, moto_server
):
    bucket = make_bucket(moto_server, public=False)
    results = roundtrip()
    public = results["public_url"]
    assert public.status == "fail"
    assert "answered 403 Forbidden: the bucket or its custom domain is not public" in public.message
    assert "Public access" in public.hint and "s3:GetObject" in public.hint
    assert results["upload"].status == "pass"
    assert results["cleanup"].status == "pass"
    assert objects(bucket) == []


def test_forced_content_type_fails_the_headers_step(settings, moto_bucket):
    settings.AWS_S3_OBJECT_PARAMETERS = {"ContentType": "application/octet-stream"}
    results = roundtrip()
    headers = results["headers"]
    assert headers.status == "fail"
    assert "stored with Content-Type 'application/octet-stream', not 'image/png'" in headers.message
    assert "object_parameters force ContentType" in headers.message
    assert 'Remove "ContentType" from object_parameters' in headers.hint
    assert objects(moto_bucket) == []


def test_missing_bucket_fails_the_upload_and_skips_the_rest(settings, moto_bucket):
    settings.AWS_STORAGE_BUCKET_NAME = f"missing-{uuid.uuid4().hex[:12]}"
    results = roundtrip()
    upload = results["upload"]
    assert upload.status == "fail"
    assert f"the bucket {settings.AWS_STORAGE_BUCKET_NAME!r} cannot be reached" in upload.message
    assert "404" in upload.message
    assert "AWS_STORAGE_BUCKET_NAME" in upload.hint
    assert statuses(results) == {
        "upload": "fail",
        "headers": "skip",
        "public_url": "skip",
        "public_cors": "skip",
        "presigned_put": "skip",
        "cleanup": "skip",
    }
    assert "see r2.roundtrip.upload" in results["headers"].message


@pytest.mark.s3rver  # moto echoes any Origin back; s3rver applies the bucket's CORS rules
def test_origin_the_bucket_does_not_allow_warns_that_browsers_would_fail(settings, s3rver_bucket):
    other = "https://elsewhere.example.test"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": [other]}
    result = roundtrip()["presigned_put"]
    assert result.status == "warn"
    assert (
        f"from {other} landed, but the answer carries no Access-Control-Allow-Origin"
        in result.message
    )
    assert f"Allow PUT from {other}" in result.hint
    assert objects(s3rver_bucket) == []


def test_keep_leaves_both_probe_objects_for_inspection(moto_bucket):
    results = roundtrip(keep=True)
    cleanup = results["cleanup"]
    assert cleanup.status == "skip"
    left = sorted(objects(moto_bucket))
    assert len(left) == 2 and all(key.startswith(PREFIX) for key in left)
    assert sorted(cleanup.details["kept"]) == left
    assert all(key in cleanup.message for key in left)


def test_probe_lives_under_the_configured_prefix_and_location(settings, moto_bucket):
    settings.AWS_LOCATION = "media"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "PROBE_PREFIX": "health/probe-"}
    results = roundtrip(keep=True)
    assert statuses(results)["public_url"] == "pass"
    assert all(key.startswith("media/health/probe-") for key in objects(moto_bucket))


def test_r2_check_reports_the_round_trip_and_exits_1_on_a_private_bucket(
    make_bucket, moto_server, tmp_path
):
    bucket = make_bucket(moto_server, public=False)
    env = manage_env(moto_server, bucket.name, tmp_path)
    result = run_manage("r2_check", "--only", ",".join(ROUNDTRIP_IDS), "--format", "json", env=env)
    assert result.returncode == 1, result.stderr
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["r2.roundtrip.public_url"]["status"] == "fail"
    assert checks["r2.roundtrip.upload"]["details"]["storage"] == "default"
    assert moto_server.secret_key not in result.stdout
    assert objects(bucket) == []


class UnreadableStorage(S3Storage):
    """A key that may write but not read: the probe fails half-way."""

    def _open(self, name, mode="rb"):
        raise PermissionError("read access denied")


class UndeletableStorage(S3Storage):
    """A key without delete permission."""

    def delete(self, name):
        raise PermissionError("delete access denied")


def use_backend(settings, backend):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.{backend.__name__}"},
    }


def test_failure_half_way_still_deletes_what_was_written(settings, moto_bucket):
    use_backend(settings, UnreadableStorage)
    results = roundtrip()
    upload = results["upload"]
    assert upload.status == "fail"
    assert "upload step failed: PermissionError: read access denied" in upload.message
    assert results["cleanup"].status == "pass"
    assert objects(moto_bucket) == []


def test_objects_that_cannot_be_deleted_fail_the_cleanup_naming_them(settings, moto_bucket):
    use_backend(settings, UndeletableStorage)
    cleanup = roundtrip()["cleanup"]
    left = sorted(objects(moto_bucket))
    for key in left:  # the test's own cleanup
        moto_bucket.client.delete_object(Bucket=moto_bucket.name, Key=key)
    assert cleanup.status == "fail"
    assert len(left) == 2 and sorted(cleanup.details["left_behind"]) == left
    assert "The probe left 2 object(s) behind" in cleanup.message
    assert "delete access denied" in cleanup.message
    assert f"aws s3 rm s3://{moto_bucket.name}/{PREFIX}" in cleanup.hint
