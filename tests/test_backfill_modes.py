"""The command's other modes and its contract: --dry-run writes nothing,
--shard partitions, --limit, exit 2 in one sentence, --verify,
--rewrite-urls, and the one-off migration."""

from types import SimpleNamespace

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from gallery.legacy import create_legacy_images
from gallery.models import UserImage
from r2_toolkit.migrations_r2.operations import BackfillLegacyMedia
from tests.support.backfill import backfill, keys_in, legacy_rows, report_lines
from tests.support.netproxy import Proxy

pytestmark = pytest.mark.django_db


def test_dry_run_prints_the_plan_and_writes_nothing(moto_bucket, media_root):
    rows = create_legacy_images(4, media_root=media_root)
    (media_root / rows[0].image.name).unlink()
    expected_bytes = sum((media_root / r.image.name).stat().st_size for r in rows[1:])

    result = backfill("--dry-run")

    assert result.code == 0, result.stderr
    assert "rows selected: 4" in result.stdout
    assert f"bytes to upload: {expected_bytes}" in result.stdout
    assert "missing files: 1" in result.stdout
    assert "estimated time" in result.stdout
    assert keys_in(moto_bucket) == []  # not even the If-None-Match probe
    assert len(legacy_rows()) == 4


def test_shards_partition_the_rows_disjointly_and_completely(moto_bucket, media_root, tmp_path):
    create_legacy_images(12, media_root=media_root)
    taken = []
    for k in (1, 2, 3):
        report = tmp_path / f"shard{k}.jsonl"
        assert backfill("--shard", f"{k}/3", "--report", str(report)).code == 0
        taken.append({line["id"] for line in report_lines(report)})

    assert sum(len(ids) for ids in taken) == 12
    assert set.union(*taken) == {str(pk) for pk in UserImage.objects.values_list("pk", flat=True)}
    assert legacy_rows() == []


def test_limit_stops_after_n_rows(moto_bucket, media_root):
    create_legacy_images(5, media_root=media_root)
    result = backfill("--limit", "2", "--batch-size", "1")
    assert result.code == 0 and "uploaded 2" in result.stdout
    assert len(legacy_rows()) == 3


@pytest.mark.parametrize(
    "args, settings_change, words",
    [
        (["--shard", "3/2"], {}, "--shard 3/2 is out of range"),
        (["--shard", "half"], {}, "is not K/N"),
        (
            [],
            {"MEDIA_ROOT": "/nonexistent/media"},
            "MEDIA_ROOT '/nonexistent/media' is not a directory",
        ),
        (
            [],
            {"R2_TOOLKIT": {"IMAGE_MODEL": "gallery.Nope"}},
            "R2_TOOLKIT[\"IMAGE_MODEL\"] is 'gallery.Nope', which is not an installed model",
        ),
        (
            [],
            {"R2_TOOLKIT": {"IMAGE_MODEL": "gallery.UserImage", "IMAGE_FIELD": "picture"}},
            "IMAGE_FIELD\"] is 'picture', but gallery.UserImage has no such field",
        ),
        ([], {"AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot write to the bucket"),
    ],
)
def test_runs_that_cannot_start_exit_2_with_one_sentence(
    moto_bucket, media_root, settings, args, settings_change, words
):
    create_legacy_images(1, media_root=media_root)
    for name, value in settings_change.items():
        setattr(settings, name, value)

    with pytest.raises(CommandError) as raised:
        backfill(*args)

    assert raised.value.returncode == 2
    assert words in str(raised.value)
    assert settings.AWS_SECRET_ACCESS_KEY not in str(raised.value)
    assert len(legacy_rows()) == 1


def test_verify_passes_on_a_clean_run_and_names_each_mismatch(moto_bucket, media_root, tmp_path):
    create_legacy_images(4, media_root=media_root)
    assert backfill().code == 0
    assert backfill("--verify").code == 0

    rows = list(UserImage.objects.order_by("pk"))
    moto_bucket.client.delete_object(Bucket=moto_bucket.name, Key=rows[0].storage_key)
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key=rows[1].storage_key, Body=b"x")
    UserImage.objects.filter(pk=rows[2].pk).update(public_url="https://elsewhere.test/a.jpg")
    report = tmp_path / "verify.jsonl"

    result = backfill("--verify", "--report", str(report))

    assert result.code == 1
    assert "verified 4 rows: 3 mismatches" in result.stdout
    reasons = {line["id"]: line["reason"] for line in report_lines(report)}
    assert "missing from the bucket" in reasons[str(rows[0].pk)]
    assert "size_bytes is" in reasons[str(rows[1].pk)]  # replaced: a different size
    assert "public_url is 'https://elsewhere.test/a.jpg'" in reasons[str(rows[2].pk)]
    assert reasons[str(rows[3].pk)] == ""


def test_rewrite_urls_replaces_endpoint_and_signed_urls(moto_bucket, media_root):
    create_legacy_images(2, media_root=media_root)
    assert backfill().code == 0
    good = {row.pk: row.public_url for row in UserImage.objects.all()}
    UserImage.objects.update(
        public_url="https://acct.r2.cloudflarestorage.com/b/x.jpg?X-Amz-Signature=abc"
    )

    result = backfill("--rewrite-urls")

    assert result.code == 0 and "rewrote public_url of 2 rows" in result.stdout
    assert {row.pk: row.public_url for row in UserImage.objects.all()} == good


def migration_function():
    """The generated gallery.0003_r2_backfill's operation, run as `migrate` runs it."""
    loader = MigrationLoader(connection)
    migration = loader.get_migration("gallery", "0003_r2_backfill")
    (operation,) = migration.operations
    assert isinstance(operation, BackfillLegacyMedia) and migration.atomic is False
    state = loader.project_state(("gallery", "0003_r2_backfill"))
    editor = SimpleNamespace(connection=connection)

    def run(*_):
        operation.database_forwards("gallery", editor, state, state)

    return run


def test_migration_backfills_legacy_rows(moto_bucket, media_root):
    create_legacy_images(3, media_root=media_root)
    migration_function()()
    assert legacy_rows() == []
    assert len(keys_in(moto_bucket)) == 3


@pytest.mark.parametrize("image_model", ["gallery.UserImage", None])
def test_migration_is_a_no_op_without_legacy_rows_and_touches_no_network(
    moto_bucket, settings, image_model, capsys
):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": image_model}
    settings.MEDIA_ROOT = "/nonexistent"
    with Proxy(moto_bucket.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        migration_function()()
        requests = dict(proxy.counts)

    assert requests == {}
    assert "legacy media backfill" not in capsys.readouterr().out


def test_migration_in_field_mode_uploads_the_named_files(moto_bucket, media_root, settings):
    from django.contrib.auth import get_user_model

    from gallery.models import Attachment

    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}
    user = get_user_model().objects.create(username="erin")
    (media_root / "docs").mkdir()
    for name in ("docs/one.txt", "docs/two.txt"):
        (media_root / name).write_text(name)
        Attachment.objects.create(user=user, file=name)

    migration_function()()

    assert keys_in(moto_bucket) == ["docs/one.txt", "docs/two.txt"]


def test_migration_stops_migrate_with_one_sentence_when_the_bucket_is_unreachable(
    moto_bucket, media_root, settings
):
    create_legacy_images(1, media_root=media_root)
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="legacy media backfill could not run: cannot write"):
        migration_function()()
    assert len(legacy_rows()) == 1


def test_verify_lists_the_bucket_instead_of_one_head_per_row(moto_bucket, media_root, settings):

    create_legacy_images(30, media_root=media_root)
    assert backfill().code == 0
    with Proxy(moto_bucket.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        result = backfill("--verify")
        requests = dict(proxy.counts)

    assert result.code == 0, result.stderr
    assert "verified 30 rows: 0 mismatches" in result.stdout
    assert requests == {"GET": 1}  # one ListObjectsV2 page for 30 rows, no HEAD


def test_verify_with_nothing_migrated_touches_no_network(moto_bucket, settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    result = backfill("--verify")
    assert result.code == 0 and "verified 0 rows: 0 mismatches" in result.stdout


def test_verify_takes_shards_and_a_limit_as_an_upload_run_does(moto_bucket, media_root):
    create_legacy_images(6, media_root=media_root)
    assert backfill().code == 0

    halves = [backfill("--verify", "--shard", f"{k}/2") for k in (1, 2)]
    limited = backfill("--verify", "--limit", "4")

    counts = [int(run.stdout.split("verified ")[1].split()[0]) for run in halves]
    assert sum(counts) == 6 and all(run.code == 0 for run in halves)
    assert "verified 4 rows: 0 mismatches" in limited.stdout
