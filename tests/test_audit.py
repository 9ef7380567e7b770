"""r2_audit end to end against real S3 servers on loopback: no false positive
after a clean migration, every finding kind produced for real (objects
deleted, replaced and uploaded behind the database's back), references from
every model on the storage, other aliases and the probe prefix out of scope,
several listing pages, the JSON document and the report, exit codes."""

import io
import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import CommandError

from gallery.legacy import create_legacy_images
from gallery.models import Attachment, UserImage
from r2_toolkit.migrations_r2.bucket import open_bucket
from tests.conftest import reset_storage_cache
from tests.support.audit import body_of, put_objects, seed_migrated
from tests.support.backfill import audit, backfill, keys_in, object_bytes, report_lines
from tests.support.netproxy import Proxy

pytestmark = pytest.mark.django_db


def document(*args):
    result = audit("--format", "json", *args)
    return result.code, json.loads(result.stdout)


def by_kind(doc):
    found = {}
    for finding in doc["findings"]:
        found.setdefault(finding["kind"], []).append(finding)
    return found


def owner(name="alice"):
    return get_user_model().objects.get_or_create(username=name)[0]


def public_url(key):
    """The URL the storage builds for ``key`` (location empty: name == key)."""
    return storage_urls()(key)


def storage_urls():
    reset_storage_cache()
    return open_bucket(1).public_url


def test_a_clean_migration_audits_clean(moto_bucket, media_root):
    create_legacy_images(6, media_root=media_root)
    assert backfill().code == 0

    code, doc = document("--grace", "0", "--metadata")

    assert code == 0, doc
    assert doc["ok"] is True and doc["findings"] == []
    summary = doc["summary"]
    assert summary["rows"] == 6 and summary["objects"] == 6
    kinds = ("missing_object", "size_mismatch", "etag_mismatch", "orphan_object")
    assert all(summary[kind] == 0 for kind in kinds)
    text = audit("--grace", "0")
    assert text.code == 0 and "ok: nothing to act on" in text.stdout


def test_every_finding_kind_from_changes_behind_the_databases_back(
    moto_bucket, media_root, tmp_path
):
    create_legacy_images(8, media_root=media_root)
    assert backfill().code == 0
    rows = list(UserImage.objects.order_by("storage_key"))
    client, name = moto_bucket.client, moto_bucket.name
    gone, bigger, same_size, moved, typed, uncached, _, fine = rows
    client.delete_object(Bucket=name, Key=gone.storage_key)
    client.put_object(Bucket=name, Key=bigger.storage_key, Body=b"x" * (bigger.size_bytes + 7))
    local = (media_root / same_size.image.name).read_bytes()
    flipped = bytes([local[0] ^ 0xFF]) + local[1:]  # same size, other bytes
    client.put_object(Bucket=name, Key=same_size.storage_key, Body=flipped)
    signed = f"{moved.public_url}?X-Amz-Expires=3600&X-Amz-Signature=s3cr3tsig"  # it expires
    UserImage.objects.filter(pk=moved.pk).update(public_url=signed)
    body = object_bytes(moto_bucket, typed.storage_key)
    client.put_object(
        Bucket=name,
        Key=typed.storage_key,
        Body=body,
        ContentType="binary/octet-stream",
        CacheControl="public, max-age=31536000, immutable",
    )
    body = object_bytes(moto_bucket, uncached.storage_key)
    client.put_object(
        Bucket=name, Key=uncached.storage_key, Body=body, ContentType=uncached.mime_type
    )
    client.put_object(Bucket=name, Key="users/alice/images/stray.jpg", Body=b"stray")
    (legacy,) = create_legacy_images(1, media_root=media_root, seed=9)
    report = tmp_path / "audit.jsonl"

    code, doc = document("--grace", "0", "--metadata", "--report", str(report))

    assert code == 1 and doc["ok"] is False
    found = by_kind(doc)
    assert [f["id"] for f in found["missing_object"]] == [str(gone.pk)]
    (size,) = found["size_mismatch"]
    assert size["id"] == str(bigger.pk)
    assert size["detail"]["row_size"] == bigger.size_bytes
    assert size["detail"]["object_size"] == bigger.size_bytes + 7
    (etag,) = found["etag_mismatch"]
    assert etag["id"] == str(same_size.pk)
    assert etag["detail"]["etag"] != etag["detail"]["file_md5"]
    (orphan,) = found["orphan_object"]
    assert orphan["id"] is None and orphan["storage_key"] == "users/alice/images/stray.jpg"
    assert orphan["detail"]["size"] == 5
    (url,) = found["public_url_mismatch"]
    assert url["id"] == str(moved.pk)
    assert url["detail"]["public_url"].startswith(f"{moved.public_url}?X-Amz-Expires=3600")
    assert "s3cr3tsig" not in json.dumps(doc)  # the signature is redacted, as every secret is
    assert url["detail"]["expected"] == moved.public_url
    assert "--rewrite-urls" in url["detail"]["fix"]
    assert [f["id"] for f in found["legacy_row"]] == [str(legacy.pk)]
    # The objects replaced without a Content-Type got the server's generic one too.
    typed_ones = {f["id"]: f["detail"] for f in found["content_type_mismatch"]}
    assert set(typed_ones) == {str(typed.pk), str(bigger.pk), str(same_size.pk)}
    assert typed_ones[str(typed.pk)]["content_type"] == "binary/octet-stream"
    cached = found["cache_control_missing"]
    assert str(uncached.pk) in {f["id"] for f in cached}
    assert str(fine.pk) not in {f["id"] for f in doc["findings"]}
    summary = doc["summary"]
    assert summary["rows"] == 9 and summary["objects"] == 8  # one deleted, one stray
    assert summary["missing_object"] == 1 and summary["legacy_row"] == 1
    lines = report_lines(report)
    assert sorted(json.dumps(line, sort_keys=True) for line in lines) == sorted(
        json.dumps(f, sort_keys=True) for f in doc["findings"]
    )
    text = audit("--grace", "0")
    assert text.code == 1
    assert "missing_object               1" in text.stdout
    assert "run r2_backfill --rewrite-urls" in text.stdout


def test_legacy_rows_alone_leave_the_exit_status_0(moto_bucket, media_root):
    create_legacy_images(2, media_root=media_root)

    code, doc = document()

    assert code == 0 and doc["ok"] is True
    assert doc["summary"]["legacy_row"] == 2
    assert {f["kind"] for f in doc["findings"]} == {"legacy_row"}


def test_another_models_file_field_on_the_storage_protects_its_objects(moto_bucket, media_root):
    create_legacy_images(2, media_root=media_root)
    assert backfill().code == 0
    reset_storage_cache()
    kept = Attachment.objects.create(user=owner(), file=ContentFile(b"%PDF-1.4", name="cv.pdf"))
    dropped = Attachment.objects.create(user=owner(), file=ContentFile(b"%PDF-1.4", name="old.pdf"))
    assert kept.file.name in keys_in(moto_bucket)

    code, doc = document("--grace", "0")
    assert code == 0, doc["findings"]

    Attachment.objects.filter(pk=dropped.pk).delete()  # the row goes, the object stays
    code, doc = document("--grace", "0")
    assert code == 1
    assert [f["storage_key"] for f in by_kind(doc)["orphan_object"]] == [dropped.file.name]


def test_other_aliases_locations_and_the_probe_prefix_are_out_of_scope(
    moto_bucket, media_root, settings
):
    create_legacy_images(2, media_root=media_root)
    assert backfill().code == 0
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"location": "private"},
        },
    }
    client, name = moto_bucket.client, moto_bucket.name
    client.put_object(Bucket=name, Key="private/contracts/1.pdf", Body=b"private")
    client.put_object(Bucket=name, Key="_r2_toolkit/probe/left-behind.png", Body=b"probe")

    code, doc = document("--grace", "0")

    assert code == 0, doc["findings"]
    assert doc["summary"]["objects"] == 4  # listed, but not the default storage's

    code, doc = document("--grace", "0", "--storage", "private")
    assert code == 1  # nothing references the private object
    assert doc["summary"]["rows"] == 0  # the image rows belong to the default storage
    assert [f["storage_key"] for f in doc["findings"]] == ["private/contracts/1.pdf"]


def test_a_storage_location_limits_the_listing_and_rows_outside_are_headed(
    moto_bucket, media_root, settings
):
    settings.AWS_LOCATION = "media"
    create_legacy_images(3, media_root=media_root)
    assert backfill().code == 0
    row = UserImage.objects.order_by("pk").first()
    assert row.storage_key.startswith("media/users/")
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key="outside.txt", Body=b"not ours")
    # A row written by hand with a key outside the location: found by HEAD.
    moto_bucket.client.copy_object(
        Bucket=moto_bucket.name,
        Key="elsewhere/x.jpg",
        CopySource={"Bucket": moto_bucket.name, "Key": row.storage_key},
    )
    UserImage.objects.filter(pk=row.pk).update(storage_key="elsewhere/x.jpg")

    code, doc = document("--grace", "0")

    assert doc["summary"]["objects"] == 3  # the location's objects only
    # Three file names and three storage_keys; two of each pair name one object
    # (counted once), the hand-written one names another object.
    assert doc["summary"]["rows"] == 4
    kinds = {f["kind"] for f in doc["findings"]}
    # The old object under media/ is no longer referenced by storage_key, but
    # the row's image field still names it: not an orphan. The URL differs.
    assert kinds == {"public_url_mismatch"}, doc["findings"]
    assert code == 1


def test_several_listing_pages_the_document_cap_and_the_report(moto_bucket, tmp_path):
    keys = [f"users/alice/images/page-{i:05d}.jpg" for i in range(2300)]
    rows = seed_migrated(moto_bucket.client, moto_bucket.name, keys, owner(), storage_urls())
    client, name = moto_bucket.client, moto_bucket.name
    # Objects gone at the page boundaries, and 1,200 orphans between them.
    for index in (0, 999, 1000, 1999, 2000, 2299):
        client.delete_object(Bucket=name, Key=keys[index])
    orphans = [f"users/alice/images/page-{i:05d}-copy.jpg" for i in range(1200)]
    put_objects(client, name, orphans)
    report = tmp_path / "audit.jsonl"
    with Proxy(moto_bucket.server.endpoint_url) as proxy:
        from django.conf import settings

        settings.AWS_S3_ENDPOINT_URL = proxy.url
        code, doc = document("--grace", "0", "--report", str(report))
        requests = dict(proxy.counts)

    assert code == 1
    summary = doc["summary"]
    assert summary["rows"] == len(rows) and summary["objects"] == 2300 - 6 + 1200
    assert summary["missing_object"] == 6 and summary["orphan_object"] == 1200
    assert requests == {"GET": 4}  # 3,494 objects: four ListObjectsV2 pages, no HEAD
    assert len(doc["findings"]) == 1000  # capped in the document...
    lines = report_lines(report)
    assert len(lines) == 1206  # ...every one in the report
    missing = {line["storage_key"] for line in lines if line["kind"] == "missing_object"}
    assert missing == {keys[i] for i in (0, 999, 1000, 1999, 2000, 2299)}
    assert {line["storage_key"] for line in lines if line["kind"] == "orphan_object"} == set(
        orphans
    )


def test_unreferenced_objects_younger_than_the_grace_period_are_not_orphans(moto_bucket):
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key="users/a/images/new.jpg", Body=b"1")

    code, doc = document()  # the default grace: one day

    assert code == 0 and doc["summary"]["orphan_object"] == 0
    assert doc["summary"]["unreferenced_within_grace"] == 1
    assert document("--grace", "0")[0] == 1


def test_delete_orphans_says_what_it_would_move_and_moves_only_with_yes(moto_bucket):
    client, name = moto_bucket.client, moto_bucket.name
    kept = ["users/alice/images/kept.jpg"]
    seed_migrated(client, name, kept, owner(), storage_urls())
    orphans = [f"users/alice/images/orphan-{i}.jpg" for i in range(3)]
    put_objects(client, name, orphans)

    told = audit("--grace", "0", "--delete-orphans")
    assert told.code == 1
    assert "would move 3 objects to the quarantine" in told.stdout and "add --yes" in told.stdout
    assert keys_in(moto_bucket) == sorted(kept + orphans)

    done = audit("--grace", "0", "--delete-orphans", "--yes")
    assert done.code == 0, done.stdout  # every orphan found was moved
    assert "moved 3 orphans to the quarantine" in done.stdout
    assert "0 could not be moved" in done.stdout and "--restore KEY" in done.stdout
    day = datetime.now(UTC).date().isoformat()
    quarantined = [f"r2-toolkit-quarantine/{day}/{key}" for key in orphans]
    assert keys_in(moto_bucket) == sorted(kept + quarantined)
    assert [object_bytes(moto_bucket, q) for q in quarantined] == [body_of(k) for k in orphans]
    assert audit("--grace", "0").code == 0  # the quarantine is out of the orphan scope


def test_a_key_referenced_after_the_listing_is_not_moved(moto_bucket, monkeypatch):
    from r2_toolkit.migrations_r2 import quarantine

    client, name = moto_bucket.client, moto_bucket.name
    put_objects(client, name, ["users/alice/images/a.jpg", "users/alice/images/b.jpg"])
    real_flush = quarantine.OrphanMover.flush

    def row_saved_meanwhile(self):
        # The app saves a row naming b.jpg between the listing and the batch.
        if self.batch:
            seed_migrated(
                client, name, ["users/alice/images/b.jpg"], owner(), storage_urls(), objects=False
            )
        return real_flush(self)

    monkeypatch.setattr(quarantine.OrphanMover, "flush", row_saved_meanwhile)

    result = audit("--grace", "0", "--delete-orphans", "--yes")

    assert "moved 1 orphans" in result.stdout
    day = datetime.now(UTC).date().isoformat()
    assert keys_in(moto_bucket) == [
        f"r2-toolkit-quarantine/{day}/users/alice/images/a.jpg",
        "users/alice/images/b.jpg",
    ]


def test_ctrl_c_stops_with_the_partial_summary(moto_bucket, monkeypatch):
    from r2_toolkit.migrations_r2.findings import RowChecker

    keys = [f"users/alice/images/{i:04d}.jpg" for i in range(50)]
    seed_migrated(moto_bucket.client, moto_bucket.name, keys, owner(), storage_urls())
    real = RowChecker.at_once
    calls = []

    def at_once_then_ctrl_c(self, row, obj):
        calls.append(row)
        if len(calls) == 10:
            # What Python's SIGINT handler raises in the main thread, where the
            # merge calls at_once. Not os.kill: a process started in the
            # background by a non-interactive shell (CI) inherits SIGINT
            # ignored, and then Python installs no handler at all.
            raise KeyboardInterrupt
        return real(self, row, obj)

    monkeypatch.setattr(RowChecker, "at_once", at_once_then_ctrl_c)

    code, doc = document()

    assert code == 1 and doc["ok"] is False
    assert doc["summary"]["interrupted"] is True
    assert 0 < doc["summary"]["rows"] < 50


def test_progress_bar_on_a_terminal_counts_objects_rows_and_findings(moto_bucket):
    from r2_toolkit.migrations_r2.audit import AuditOptions, run_audit
    from r2_toolkit.migrations_r2.audit_report import AuditProgress

    keys = [f"users/alice/images/{i:04d}.jpg" for i in range(30)]
    seed_migrated(moto_bucket.client, moto_bucket.name, keys, owner(), storage_urls())
    stream = io.StringIO()

    result = run_audit(AuditOptions(), progress=AuditProgress(stream, interactive=True))

    assert result.exit_code == 0
    assert "listed" in stream.getvalue() and "30 rows, 0 findings" in stream.getvalue()


def test_the_bucket_unreachable_is_exit_2_in_one_sentence(moto_bucket, settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there

    with pytest.raises(CommandError) as raised:
        audit()

    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith(f"cannot audit bucket {moto_bucket.name!r}: could not connect")
    assert "\n" not in message and "Traceback" not in message
    assert settings.AWS_SECRET_ACCESS_KEY not in message


@pytest.mark.parametrize(
    "args, words",
    [
        (["--yes"], "--yes confirms --delete-orphans"),
        (["--storage", "nope"], "STORAGES has no S3 alias 'nope'"),
        (["--report", "/nonexistent/dir/r.jsonl"], "cannot write the report"),
    ],
)
def test_bad_arguments_are_exit_2_naming_the_fix(moto_bucket, args, words):
    with pytest.raises(CommandError) as raised:
        audit(*args)
    assert raised.value.returncode == 2
    assert words in str(raised.value)


def test_a_negative_grace_is_refused_by_the_parser(moto_bucket):
    with pytest.raises(CommandError, match="expected a number of seconds"):
        audit("--grace", "-5")


def test_s3rver_clean_migration_and_changes(s3rver_bucket, media_root):
    create_legacy_images(4, media_root=media_root)
    assert backfill().code == 0
    code, doc = document("--grace", "0")
    assert code == 0, doc["findings"]

    row = UserImage.objects.order_by("storage_key").first()
    client, name = s3rver_bucket.client, s3rver_bucket.name
    client.delete_object(Bucket=name, Key=row.storage_key)
    client.put_object(Bucket=name, Key="users/bob/images/stray 1+1%.jpg", Body=body_of("x"))

    code, doc = document("--grace", "0")

    assert code == 1
    found = by_kind(doc)
    assert [f["id"] for f in found["missing_object"]] == [str(row.pk)]
    assert [f["storage_key"] for f in found["orphan_object"]] == ["users/bob/images/stray 1+1%.jpg"]


def test_a_key_whose_url_serves_another_key_is_a_public_url_mismatch(moto_bucket):
    """Issue 18, defect 3: the storage turns a backslash into a slash in
    url(), so this object has no working URL; verify and audit said nothing."""
    client, name = moto_bucket.client, moto_bucket.name
    dead, fine = "users/alice/images/back\\slash.jpg", "users/alice/images/plain.jpg"
    seed_migrated(client, name, [dead, fine], owner(), storage_urls())

    code, doc = document("--grace", "0")

    assert code == 1
    found = by_kind(doc)
    # The row's file field names it too, and the storage serves that name
    # from back/slash.jpg, which is not there.
    (missing,) = found["missing_object"]
    assert missing["storage_key"] == "users/alice/images/back/slash.jpg"
    (finding,) = found["public_url_mismatch"]
    assert set(found) == {"missing_object", "public_url_mismatch"}
    assert finding["storage_key"] == dead
    assert finding["detail"]["expected"].endswith("/users/alice/images/back/slash.jpg")
    assert "no URL reaches the key" in finding["detail"]["message"]
    assert "no backslash" in finding["detail"]["fix"]
    verify = backfill("--verify")
    assert verify.code == 1 and "no URL reaches the key" in verify.stderr
