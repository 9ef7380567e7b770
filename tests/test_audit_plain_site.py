"""r2_audit on a plain site (tests/plain_site: ImageFields and a
FileField, no record model, the reference app not installed), through
manage.py in real processes, on SQLite and PostgreSQL: missing objects of
plain fields found, legacy files told apart, the five names django-storages
rewrites kept, the orphan quarantined and restored, and nothing else in the
bucket ever written."""

import contextlib
import json

import pytest

from tests.support.audit import put_objects
from tests.support.backfill import keys_in, object_bytes
from tests.support.servers import manage_env, postgres_database, run_manage
from tests.test_audit_fields import HOSTILE, SERVED_FROM

SETTINGS = "tests.plain_site.settings"
SEED = f"""
from pathlib import Path
from django.conf import settings
from tests.plain_site.plainfiles.models import Document, Photo
for name in ("photos/here.jpg", "photos/gone.jpg", "photos/local.jpg"):
    Photo.objects.create(image=name)
local = Path(settings.MEDIA_ROOT) / "photos" / "local.jpg"
local.parent.mkdir(parents=True, exist_ok=True)
local.write_bytes(b"not uploaded yet")
for name in {HOSTILE!r}:
    Document.objects.create(file=name)
"""
READ_EVERY_DOCUMENT = """
from tests.plain_site.plainfiles.models import Document
for document in Document.objects.order_by("pk"):
    with document.file.open() as stream:
        print("READ", stream.read().decode())
"""


@contextlib.contextmanager
def database(kind, tmp_path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    else:
        with postgres_database("r2_audit_plain") as url:
            yield url


def audit_json(*args, env):
    done = run_manage("r2_audit", "--format", "json", *args, env=env)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


def kinds(doc):
    found = {}
    for finding in doc["findings"]:
        found.setdefault(finding["kind"], set()).add(finding["storage_key"])
    return found


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_plain_siteed_quarantined_and_restored(moto_bucket, tmp_path, kind):
    client, bucket = moto_bucket.client, moto_bucket.name
    objects = ["photos/here.jpg", *SERVED_FROM]
    put_objects(client, bucket, [*objects, "photos/orphan.jpg"], body=str.encode)
    with database(kind, tmp_path) as url:
        env = manage_env(
            moto_bucket.server,
            bucket,
            tmp_path,
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE=SETTINGS,
        )
        for args in (["migrate", "-v0"], ["shell", "-c", SEED]):
            done = run_manage(*args, env=env)
            assert done.returncode == 0, done.stderr[-2000:]

        code, doc = audit_json("--grace", "0", env=env)

        assert code == 1
        assert kinds(doc) == {
            "missing_object": {"photos/gone.jpg"},
            "legacy_row": {"photos/local.jpg"},
            "orphan_object": {"photos/orphan.jpg"},
        }
        assert doc["summary"]["rows"] == 3 + len(HOSTILE)

        code, doc = audit_json("--grace", "0", "--delete-orphans", "--yes", env=env)

        assert code == 1  # photos/gone.jpg is still missing
        assert doc["summary"]["quarantined"] == 1
        prefix = doc["summary"]["quarantine_prefix"]
        assert keys_in(moto_bucket) == sorted([*objects, f"{prefix}photos/orphan.jpg"])
        read = run_manage("shell", "-c", READ_EVERY_DOCUMENT, env=env)
        served = [line for line in read.stdout.splitlines() if line.startswith("READ ")]
        assert served == [f"READ {key}" for key in SERVED_FROM]

        code, doc = audit_json("--restore", "photos/orphan.jpg", env=env)

        assert code == 0 and doc["summary"]["restored"] == 1
        assert keys_in(moto_bucket) == sorted([*objects, "photos/orphan.jpg"])
        assert object_bytes(moto_bucket, "photos/orphan.jpg") == b"photos/orphan.jpg"
        assert [object_bytes(moto_bucket, key) for key in objects] == [k.encode() for k in objects]
