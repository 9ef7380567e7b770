"""r2_backfill end to end against real S3 servers on loopback: every good
row gets its six fields right, re-runs are no-ops, exit codes and reports."""

import pytest

from gallery.legacy import create_legacy_images
from gallery.models import UserImage
from tests.support.backfill import (
    assert_row_migrated,
    backfill,
    keys_in,
    legacy_rows,
    report_lines,
)

pytestmark = pytest.mark.django_db


def test_backfill_fills_six_fields_and_uploads_the_same_bytes(moto_bucket, media_root, tmp_path):
    create_legacy_images(6, media_root=media_root)
    report = tmp_path / "report.jsonl"

    result = backfill("--workers", "3", "--batch-size", "4", "--report", str(report))

    assert result.code == 0, result.stderr
    assert "uploaded 6" in result.stdout
    rows = list(UserImage.objects.all())
    for row in rows:
        assert_row_migrated(row, media_root, moto_bucket)
        # Names already in the app's layout keep their name: FileField.url agrees.
        assert row.storage_key == row.image.name
        head = moto_bucket.client.head_object(Bucket=moto_bucket.name, Key=row.storage_key)
        assert head["ContentType"] == row.mime_type
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert keys_in(moto_bucket) == sorted(row.storage_key for row in rows)
    lines = report_lines(report)
    assert {line["id"] for line in lines} == {str(row.pk) for row in rows}
    assert {line["status"] for line in lines} == {"uploaded"}
    assert all(line["bytes"] > 0 and line["storage_key"] for line in lines)


def test_rerun_selects_nothing_and_touches_no_network(moto_bucket, media_root, settings):
    create_legacy_images(3, media_root=media_root)
    assert backfill().code == 0
    # Point the storage at a port nobody listens on: a second run must not care.
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"

    again = backfill()

    assert again.code == 0, again.stderr
    assert "uploaded 0, adopted 0, skipped 0, failed 0" in again.stdout
    assert legacy_rows() == []


def test_ctrl_c_finishes_the_files_in_flight_writes_them_and_prints_the_summary(
    moto_bucket, media_root, monkeypatch
):
    import os
    import signal

    from r2_toolkit.migrations_r2 import transfer

    create_legacy_images(20, media_root=media_root)
    real_process = transfer.process
    pressed = []

    def process_then_ctrl_c(*args):
        result = real_process(*args)
        if not pressed:  # the operator presses Ctrl-C once, mid-run
            pressed.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(transfer, "process", process_then_ctrl_c)

    result = backfill("--workers", "2", "--batch-size", "50")

    assert result.code == 1
    assert "interrupted" in result.stdout
    migrated = list(UserImage.objects.filter(storage_key__isnull=False))
    assert 1 <= len(migrated) < 20
    assert f"uploaded {len(migrated)}," in result.stdout
    for row in migrated:  # every written row points at its verified object
        assert_row_migrated(row, media_root, moto_bucket)
    monkeypatch.setattr(transfer, "process", real_process)
    assert backfill().code == 0
    assert legacy_rows() == []


def test_database_statements_grow_with_batches_not_rows(moto_bucket, media_root):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    create_legacy_images(40, media_root=media_root)
    with CaptureQueriesContext(connection) as queries:
        assert backfill("--batch-size", "10", "--workers", "4").code == 0
    # Per batch of 10: one keyset page and one UPDATE, plus on PostgreSQL the
    # claim's lock and unlock; one more page read finds the end. Savepoints
    # come from the test's own transaction. Never a query per row.
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    batches = 40 // 10
    per_batch = 4 if connection.vendor == "postgresql" else 2
    # Results that finish together may share an UPDATE: never more than one a batch.
    assert 1 <= len([sql for sql in statements if sql.startswith("UPDATE")]) <= batches
    assert len(statements) <= per_batch * batches + 1, statements
    assert legacy_rows() == []


def test_progress_is_a_log_line_every_few_seconds_without_a_terminal():
    import io

    from r2_toolkit.migrations_r2.report import Progress, Summary

    now = [0.0]
    stream = io.StringIO()
    summary = Summary(started=0.0)
    progress = Progress(stream, interactive=False, clock=lambda: now[0])
    summary.count("uploaded", 2_000_000)
    progress.update(summary)
    assert stream.getvalue() == ""  # not every row: a line per interval
    now[0] = 20.0
    progress.update(summary)
    assert "1 rows done (1 uploaded, 0 adopted, 0 failed)" in stream.getvalue()
    assert "objects/s" in stream.getvalue() and "MB/s" in stream.getvalue()


def test_progress_is_a_bar_with_rate_on_a_terminal():
    import io

    from r2_toolkit.migrations_r2.report import Progress, Summary

    stream = io.StringIO()
    summary = Summary()
    progress = Progress(stream, total=4, interactive=True)
    summary.count("uploaded", 1000)
    progress.update(summary)
    progress.close()
    assert "1/4" in stream.getvalue() and "obj/s" in stream.getvalue()
