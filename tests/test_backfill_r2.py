"""r2_backfill against a server that behaves as R2 does (tests/support/r2_faithful.py):
R2 stores keys in NFC, so names that differ only in normalization are one object;
and it refuses multipart uploads whose non-trailing parts differ in size.
Behaviour only: what lands in the bucket, what the rows and the report say."""

import unicodedata

import pytest

from gallery.legacy import image_bytes
from gallery.models import UserImage
from r2_toolkit.checks.registry import select
from r2_toolkit.checks.runner import run_checks
from tests.support.backfill import assert_row_migrated, backfill, object_bytes, report_lines

pytestmark = pytest.mark.django_db

NFC_NAME = unicodedata.normalize("NFC", "users/alice/images/café.jpg")
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)


def legacy_row(media_root, name, data):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get_or_create(username="alice")[0]
    path = media_root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return UserImage.objects.create(user=user, image=name, caption=name)


def test_two_names_one_key_on_r2_the_second_is_a_conflict_never_an_overwrite(
    r2_bucket, media_root, tmp_path
):
    assert NFC_NAME != NFD_NAME  # two files on a Linux disk, one key on R2
    first = legacy_row(media_root, NFC_NAME, image_bytes(40, 30, seed=1))
    second = legacy_row(media_root, NFD_NAME, image_bytes(40, 30, seed=2))
    warned = run_checks(select(only=["r2.schema.unicode_names"]), aliases=["default"])[0]
    assert warned.status == "warn" and f"row {second.pk}" in warned.message

    report = tmp_path / "report.jsonl"
    result = backfill("--workers", "1", "--report", str(report))

    assert result.code == 1, result.stdout + result.stderr
    lines = {line["id"]: line for line in report_lines(report)}
    # Rows go in primary-key order (uuids here): whichever comes first is uploaded.
    winner, loser = sorted([first, second], key=lambda r: lines[str(r.pk)]["status"] != "uploaded")
    assert lines[str(winner.pk)]["status"] == "uploaded"
    assert lines[str(loser.pk)]["status"] == "failed" and lines[str(loser.pk)]["reason"]
    # The object holds the winner's bytes, as its row says; the other row is untouched.
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert object_bytes(r2_bucket, NFC_NAME) == (media_root / winner.image.name).read_bytes()
    assert_row_migrated(winner, media_root, r2_bucket)
    assert loser.storage_key is None and loser.public_url is None


def test_same_bytes_under_both_names_is_adopted(r2_bucket, media_root):
    data = image_bytes(40, 30, seed=3)
    legacy_row(media_root, NFC_NAME, data)
    legacy_row(media_root, NFD_NAME, data)

    result = backfill("--workers", "1")

    assert result.code == 0, result.stdout + result.stderr
    assert "uploaded 1, adopted 1" in result.stdout
    assert object_bytes(r2_bucket, NFC_NAME) == data


def test_nfd_name_alone_is_migrated_and_served(r2_bucket, media_root):
    row = legacy_row(media_root, NFD_NAME, image_bytes(40, 30, seed=4))
    result = backfill()
    assert result.code == 0, result.stdout + result.stderr
    row.refresh_from_db()
    assert_row_migrated(row, media_root, r2_bucket)


@pytest.mark.slow
def test_large_file_lands_intact_on_r2(r2_bucket, media_root):
    # Beyond the 8 MB at which clients switch to multipart: R2 takes a multipart
    # upload only when every part but the last has the same size.
    data = image_bytes(2200, 2200, fmt="PNG", seed=5, noise=2200 * 2200 * 3)
    assert len(data) > 12 * 1024 * 1024
    row = legacy_row(media_root, "users/alice/images/large.png", data)

    result = backfill()

    assert result.code == 0, result.stdout + result.stderr
    row.refresh_from_db()
    assert_row_migrated(row, media_root, r2_bucket)
    assert not [code for _, code in r2_bucket.server.refused if code == "InvalidPart"]
