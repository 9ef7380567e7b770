"""Bad legacy data: every bad row is reported with its reason and left
untouched, every good row beside it is migrated, nothing in the bucket is
overwritten and nothing outside MEDIA_ROOT is read."""

import struct
import zlib

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from gallery.legacy import image_bytes
from gallery.models import UserImage
from r2_toolkit.core.conf import R2_FIELDS
from tests.support.backfill import (
    assert_row_migrated,
    backfill,
    keys_in,
    object_bytes,
    report_lines,
)

pytestmark = pytest.mark.django_db


def png_claiming(width, height):
    """A PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def alice(db):
    return get_user_model().objects.create(username="alice")


def add(user, name, media_root, content=None):
    """A legacy row named ``name``; its file holds ``content`` (None: no file)."""
    if content is not None:
        path = media_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return UserImage.objects.create(user=user, image=name)


def assert_untouched(row):
    row.refresh_from_db()
    assert all(getattr(row, field) is None for field in R2_FIELDS), row


def reasons_by_id(report):
    return {line["id"]: (line["status"], line["reason"]) for line in report_lines(report)}


def test_each_bad_row_is_reported_and_untouched_while_good_rows_migrate(
    moto_bucket, media_root, alice, tmp_path, monkeypatch
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    jpeg = image_bytes(40, 30, "JPEG", seed=1)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg)
    (media_root / "users/alice/images").mkdir(parents=True)
    (media_root / "users/alice/images/link.jpg").symlink_to(outside)
    bad = {
        "missing file": add(alice, "users/alice/images/gone.jpg", media_root),
        "empty file": add(alice, "users/alice/images/empty.jpg", media_root, b""),
        "not an image": add(alice, "users/alice/images/notes.jpg", media_root, b"just text\n" * 50),
        "truncated JPEG": add(
            alice,
            "users/alice/images/cut.jpg",
            media_root,
            image_bytes(200, 150, "JPEG", seed=2, noise=20000)[:1500],
        ),
        "decompression bomb": add(
            alice, "users/alice/images/bomb.png", media_root, png_claiming(20_000, 20_000)
        ),
        "public_url": add(alice, "users/alice/images/" + "long" * 50 + ".jpg", media_root, jpeg),
        "escapes MEDIA_ROOT": add(alice, "../../etc/passwd", media_root),
        "absolute path": add(alice, "/etc/passwd", media_root),
        "symlink": UserImage.objects.create(user=alice, image="users/alice/images/link.jpg"),
    }
    good = [
        add(
            alice,
            "users/alice/images/café au lait ü.png",
            media_root,
            image_bytes(33, 22, "PNG", seed=3),
        ),
        add(alice, "legacy/2019/photo.jpeg", media_root, image_bytes(21, 12, "JPEG", seed=4)),
    ]
    report = tmp_path / "report.jsonl"

    result = backfill("--report", str(report), "--workers", "4")

    assert result.code == 1
    assert "failed 9" in result.stdout and "uploaded 2" in result.stdout
    lines = reasons_by_id(report)
    for cause, row in bad.items():
        status, reason = lines[str(row.pk)]
        assert status == "failed"
        assert cause in reason, (cause, reason)
        assert_untouched(row)
    for row in good:
        legacy_name = row.image.name
        row.refresh_from_db()
        assert_row_migrated(row, media_root, moto_bucket, legacy_name)
    assert keys_in(moto_bucket) == sorted(row.storage_key for row in good)


def test_an_existing_key_with_other_bytes_is_a_conflict_and_stays_untouched(
    moto_bucket, media_root, alice, tmp_path
):
    row = add(alice, "users/alice/images/taken.jpg", media_root, image_bytes(10, 10, seed=5))
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key=row.image.name, Body=b"theirs")
    report = tmp_path / "report.jsonl"

    result = backfill("--report", str(report))

    assert result.code == 1
    assert reasons_by_id(report)[str(row.pk)][0] == "failed"
    assert "conflict" in reasons_by_id(report)[str(row.pk)][1]
    assert object_bytes(moto_bucket, row.image.name) == b"theirs"
    assert_untouched(row)


def test_an_existing_key_with_the_same_bytes_is_adopted(moto_bucket, media_root, alice, tmp_path):
    content = image_bytes(12, 9, "PNG", seed=6)
    row = add(alice, "users/alice/images/already.png", media_root, content)
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key=row.image.name, Body=content)
    report = tmp_path / "report.jsonl"

    result = backfill("--report", str(report))

    assert result.code == 0, result.stderr
    assert reasons_by_id(report)[str(row.pk)][0] == "adopted"
    row.refresh_from_db()
    assert_row_migrated(row, media_root, moto_bucket)


@pytest.mark.s3rver
def test_s3rver_ignores_if_none_match_yet_nothing_is_overwritten(
    s3rver_bucket, media_root, alice, tmp_path
):
    taken = add(alice, "users/alice/images/taken.jpg", media_root, image_bytes(10, 10, seed=7))
    fresh = add(alice, "users/alice/images/fresh.jpg", media_root, image_bytes(11, 10, seed=8))
    s3rver_bucket.client.put_object(Bucket=s3rver_bucket.name, Key=taken.image.name, Body=b"theirs")
    report = tmp_path / "report.jsonl"

    result = backfill("--report", str(report))

    assert result.code == 1
    assert object_bytes(s3rver_bucket, taken.image.name) == b"theirs"
    assert_untouched(taken)
    assert "conflict" in reasons_by_id(report)[str(taken.pk)][1]
    fresh.refresh_from_db()
    assert (
        object_bytes(s3rver_bucket, fresh.storage_key)
        == (media_root / fresh.image.name).read_bytes()
    )
    # No probe object is left behind either.
    assert keys_in(s3rver_bucket) == sorted([taken.image.name, fresh.storage_key])
