"""The quarantine: ``--delete-orphans --yes`` moves orphans under
``QUARANTINE_PREFIX/<date>/``, ``--restore`` / ``--restore-all`` move them back
(never over an existing object), ``--purge-quarantine --older-than DAYS
--yes`` deletes them for good; a row that takes an orphan's key in the
deletion window (issue 18, defect 5) gets it back with ``--restore``.
Against moto and s3rver, through the command."""

import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import CommandError

from gallery.models import Attachment
from tests.conftest import reset_storage_cache
from tests.support.audit import body_of, put_objects
from tests.support.backfill import audit, keys_in, object_bytes, report_lines
from tests.support.netproxy import Proxy

pytestmark = pytest.mark.django_db

KEPT = "users/bob/files/kept.txt"
ORPHANS = [f"users/bob/files/orphan-{i}.txt" for i in range(3)]


def day():
    return datetime.now(UTC).date().isoformat()


def quarantined(key):
    return f"r2-toolkit-quarantine/{day()}/{key}"


@pytest.fixture
def site(settings, media_root):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}


def seed(bucket):
    user = get_user_model().objects.get_or_create(username="bob")[0]
    Attachment.objects.create(user=user, file=KEPT)
    put_objects(bucket.client, bucket.name, [KEPT, *ORPHANS])


def run(*args):
    result = audit("--format", "json", *args)
    return result.code, json.loads(result.stdout)


@pytest.mark.parametrize("server", ["moto", "s3rver"])
def test_quarantine_restore_and_purge_round_trip(request, site, server, tmp_path):
    bucket = request.getfixturevalue(f"{server}_bucket")
    seed(bucket)
    report = tmp_path / "moved.jsonl"

    code, doc = run("--grace", "0", "--delete-orphans", "--yes", "--report", str(report))

    assert code == 0 and doc["summary"]["quarantined"] == 3
    assert doc["summary"]["quarantine_prefix"] == f"r2-toolkit-quarantine/{day()}/"
    moved = {line["storage_key"]: line["detail"]["quarantine_key"] for line in report_lines(report)}
    assert moved == {key: quarantined(key) for key in ORPHANS}  # old key -> new key
    assert keys_in(bucket) == sorted([KEPT, *moved.values()])
    assert object_bytes(bucket, quarantined(ORPHANS[0])) == body_of(ORPHANS[0])

    # One back by its original key, one by its quarantined key.
    code, doc = run("--restore", ORPHANS[0], quarantined(ORPHANS[1]))
    assert code == 0 and doc["summary"]["restored"] == 2
    assert keys_in(bucket) == sorted([KEPT, ORPHANS[0], ORPHANS[1], quarantined(ORPHANS[2])])
    assert object_bytes(bucket, ORPHANS[0]) == body_of(ORPHANS[0])

    told = audit("--purge-quarantine", "--older-than", "0")
    assert told.code == 0 and "1 would be deleted for good" in told.stdout
    assert "add --yes" in told.stdout and quarantined(ORPHANS[2]) in keys_in(bucket)
    assert audit("--purge-quarantine", "--older-than", "30", "--yes").stdout.count("purge") == 1
    assert quarantined(ORPHANS[2]) in keys_in(bucket)  # younger than 30 days: kept

    code, doc = run("--purge-quarantine", "--older-than", "0", "--yes")
    assert code == 0 and doc["summary"]["purged"] == 1
    assert keys_in(bucket) == sorted([KEPT, ORPHANS[0], ORPHANS[1]])
    assert run("--restore-all")[1]["summary"] == {"mode": "restore", "requests": 1}


def test_restore_never_overwrites_an_object_at_the_original_key(site, moto_bucket):
    seed(moto_bucket)
    assert run("--grace", "0", "--delete-orphans", "--yes")[0] == 0
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key=ORPHANS[0], Body=b"new upload")

    code, doc = run("--restore-all")

    assert code == 1 and doc["ok"] is False
    assert doc["summary"]["conflict"] == 1 and doc["summary"]["restored"] == 2
    (conflict,) = [o for o in doc["objects"] if o["action"] == "conflict"]
    assert conflict["key"] == ORPHANS[0] and conflict["quarantine_key"] == quarantined(ORPHANS[0])
    assert object_bytes(moto_bucket, ORPHANS[0]) == b"new upload"  # not replaced
    assert quarantined(ORPHANS[0]) in keys_in(moto_bucket)  # the old bytes are kept
    text = audit("--restore", "users/bob/files/never-there.txt")
    assert text.code == 1 and "not in the quarantine" in text.stdout


def test_a_row_that_takes_the_key_in_the_deletion_window_gets_it_back(
    site, moto_bucket, monkeypatch
):
    """Issue 18, defect 5: a row saved after the last re-check and before the
    delete used to lose its object for good; now it is in the quarantine."""
    from r2_toolkit.migrations_r2 import quarantine

    seed(moto_bucket)
    real = quarantine.referenced
    calls = []

    def row_saved_after_the_last_check(sources, keys):
        found = real(sources, keys)
        calls.append(keys)
        if len(calls) == 2:  # the re-check after the copies, just before the delete
            user = get_user_model().objects.get(username="bob")
            Attachment.objects.create(user=user, file=ORPHANS[1])
        return found

    monkeypatch.setattr(quarantine, "referenced", row_saved_after_the_last_check)
    assert run("--grace", "0", "--delete-orphans", "--yes")[0] == 0
    monkeypatch.setattr(quarantine, "referenced", real)

    code, doc = run("--grace", "0")
    assert code == 1
    assert [f["storage_key"] for f in doc["findings"]] == [ORPHANS[1]]
    assert doc["findings"][0]["kind"] == "missing_object"
    assert "--restore KEY" in doc["findings"][0]["detail"]["fix"]

    code, doc = run("--restore", ORPHANS[1])

    assert code == 0 and doc["summary"]["restored"] == 1
    reset_storage_cache()
    with default_storage.open(ORPHANS[1]) as stream:
        assert stream.read() == body_of(ORPHANS[1])
    assert run("--grace", "0")[0] == 0


def test_an_audit_writes_nothing_and_a_move_writes_only_the_moves(site, moto_bucket, settings):
    seed(moto_bucket)
    with Proxy(moto_bucket.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        assert run("--grace", "0", "--metadata", "--delete-orphans")[0] == 1
        assert set(proxy.counts) <= {"GET", "HEAD"}
        proxy.counts.clear()
        assert run("--grace", "0", "--delete-orphans", "--yes")[0] == 0
        # A GET list, a PUT (CopyObject) per orphan, one POST (DeleteObjects).
        assert dict(proxy.counts) == {"GET": 1, "PUT": 3, "POST": 1}
    assert keys_in(moto_bucket) == sorted([KEPT, *(quarantined(k) for k in ORPHANS)])


@pytest.mark.parametrize(
    "args, words",
    [
        (["--restore", "k", "--restore-all"], "each run alone"),
        (["--restore-all", "--delete-orphans"], "each run alone"),
        (["--purge-quarantine"], "needs --older-than DAYS"),
        (["--older-than", "3"], "needs --older-than DAYS"),
        (["--restore-all", "--yes"], "drop it from a restore"),
    ],
)
def test_quarantine_flags_that_do_not_go_together_are_exit_2(site, moto_bucket, args, words):
    with pytest.raises(CommandError) as raised:
        audit(*args)
    assert raised.value.returncode == 2
    assert words in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("days", ["inf", "nan", "-1", "1e300", "soon"])
def test_older_than_is_a_finite_number_of_days(site, moto_bucket, days):
    with pytest.raises(CommandError, match="expected a number of days from 0 to 36500"):
        audit("--purge-quarantine", "--older-than", days)


@pytest.mark.parametrize("args", [["--restore-all"], ["--purge-quarantine", "--older-than", "1"]])
def test_the_quarantine_unreachable_is_exit_2_in_one_sentence(site, moto_bucket, settings, args):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there

    with pytest.raises(CommandError) as raised:
        audit(*args)

    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith(f"cannot work on the quarantine of bucket {moto_bucket.name!r}")
    assert "\n" not in message and settings.AWS_SECRET_ACCESS_KEY not in message


def test_restore_takes_the_copy_named_or_else_the_newest(site, moto_bucket):
    client, name = moto_bucket.client, moto_bucket.name
    key = "users/bob/files/twice.txt"
    older, newer = f"r2-toolkit-quarantine/2020-01-01/{key}", quarantined(key)
    client.put_object(Bucket=name, Key=older, Body=b"first version")
    client.put_object(Bucket=name, Key=newer, Body=b"second version")

    assert run("--restore", older)[0] == 0
    assert object_bytes(moto_bucket, key) == b"first version"
    client.delete_object(Bucket=name, Key=key)
    assert run("--restore", key)[0] == 0
    assert object_bytes(moto_bucket, key) == b"second version"
    assert keys_in(moto_bucket) == [key]


def test_a_row_that_takes_the_key_during_the_copy_keeps_its_object_in_place(
    site, moto_bucket, monkeypatch
):
    from r2_toolkit.migrations_r2 import quarantine

    seed(moto_bucket)
    real = quarantine.Objects.copy

    def row_saved_during_the_copy(self, source, target, **kwargs):
        done = real(self, source, target, **kwargs)
        if source == ORPHANS[2]:
            user = get_user_model().objects.get(username="bob")
            Attachment.objects.create(user=user, file=ORPHANS[2])
        return done

    monkeypatch.setattr(quarantine.Objects, "copy", row_saved_during_the_copy)

    code, doc = run("--grace", "0", "--delete-orphans", "--yes")

    assert code == 0 and doc["summary"]["quarantined"] == 2
    assert {f["storage_key"] for f in doc["findings"]} == set(ORPHANS[:2])
    assert keys_in(moto_bucket) == sorted(
        [KEPT, ORPHANS[2], quarantined(ORPHANS[0]), quarantined(ORPHANS[1])]
    )  # in place, and its copy dropped
