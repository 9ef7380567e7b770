"""r2_backfill on a plain site (tests/plain_site: an
``ImageField(upload_to="photos/")``, a FileField and an ImageField keeping
width/height fields; no record model, the reference app not installed),
through manage.py in real processes, on SQLite and PostgreSQL: the fields
listed with their counts, every file uploaded under its row's own name and
served by ``field.url``, the empty width/height filled, a re-run a no-op."""

import contextlib
import json

import pytest

from gallery.legacy import image_bytes
from tests.support.backfill import fetch, keys_in
from tests.support.servers import manage_env, postgres_database, run_manage

SETTINGS = "tests.plain_site.settings"
FILES = {
    "photos/a.jpg": image_bytes(8, 6, "JPEG", seed=1),
    "photos/b.png": image_bytes(5, 3, "PNG", seed=2),
    "docs/readme.pdf": b"%PDF-1.7 a document",
    "pictures/p.png": image_bytes(21, 13, "PNG", seed=3),
}
# Rows are created nameless and named by UPDATE: an ImageField with
# width/height fields reads its file whenever an instance with empty
# dimensions is built, and the files are not in the bucket yet.
SEED = """
from tests.plain_site.plainfiles.models import Document, Photo, Picture
def named(model, field, name):
    row = model.objects.create(**{field: ""})
    model.objects.filter(pk=row.pk).update(**{field: name})
named(Photo, "image", "photos/a.jpg")
named(Photo, "image", "photos/a.jpg")  # a copied row: one object
named(Photo, "image", "photos/b.png")
named(Document, "file", "docs/readme.pdf")
named(Picture, "image", "pictures/p.png")
"""
READ_BACK = """
import json, urllib.request
from tests.plain_site.plainfiles.models import Document, Photo, Picture
print(json.dumps({
    "dims": list(Picture.objects.values_list("width", "height")),
    "urls": {r.image.name: r.image.url for r in Photo.objects.all()}
    | {r.file.name: r.file.url for r in Document.objects.all()}
    | {r.image.name: r.image.url for r in Picture.objects.all()},
}))
"""


@contextlib.contextmanager
def database(kind, tmp_path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    else:
        with postgres_database("r2_backfill_plain") as url:
            yield url


def manage(*args, env):
    done = run_manage(*args, env=env)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_plain_siteed_under_its_own_names(moto_bucket, tmp_path, kind):
    media = tmp_path / "media"
    for name, content in FILES.items():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(content)
    with database(kind, tmp_path) as url:
        env = manage_env(
            moto_bucket.server,
            moto_bucket.name,
            tmp_path,
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE=SETTINGS,
        )
        for args in (["migrate", "-v0"], ["shell", "-c", SEED]):
            assert manage(*args, env=env).returncode == 0

        listed = manage("r2_backfill", "--list-fields", env=env)
        report = tmp_path / "report.jsonl"
        done = manage("r2_backfill", "--report", str(report), env=env)
        again = manage("r2_backfill", env=env)
        read_back = manage("shell", "-c", READ_BACK, env=env)
        read = json.loads(read_back.stdout.splitlines()[-1])

    assert listed.returncode == 0, listed.stderr
    counts = dict(line.split(": ", 1) for line in listed.stdout.splitlines())
    assert counts["plainfiles.Photo.image"].startswith("3 row(s)")
    assert counts["plainfiles.Document.file"].startswith("1 row(s)")
    assert counts["plainfiles.Picture.image"].startswith("1 row(s)")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uploaded 4, adopted 0, skipped 0, failed 0" in done.stdout
    assert keys_in(moto_bucket) == sorted(FILES)
    assert counts["plainfiles.Record.image"].startswith("0 row(s)")
    reported = {json.loads(line)["model"] for line in report.read_text().splitlines()}
    assert reported == set(counts) - {"plainfiles.Record.image"}
    assert again.returncode == 0 and "uploaded 0, adopted 0, skipped 4" in again.stdout
    assert read["dims"] == [[21, 13]]
    for name, served in read["urls"].items():
        assert fetch(served) == FILES[name], name


MANY_DOCUMENTS = """
from pathlib import Path
from django.conf import settings
from tests.plain_site.plainfiles.models import Document
root = Path(settings.MEDIA_ROOT) / "docs"
root.mkdir(parents=True, exist_ok=True)
for i in range(300):
    (root / f"doc-{i:03}.txt").write_bytes(f"document {i}".encode() * 50)
Document.objects.bulk_create(Document(file=f"docs/doc-{i:03}.txt") for i in range(300))
"""


def test_killed_at_any_moment_the_next_run_ends_in_the_same_state(moto_bucket, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests.support.servers import ROOT

    env = manage_env(
        moto_bucket.server, moto_bucket.name, tmp_path, DJANGO_SETTINGS_MODULE=SETTINGS
    )
    for args in (["migrate", "-v0"], ["shell", "-c", MANY_DOCUMENTS]):
        assert manage(*args, env=env).returncode == 0
    command = [sys.executable, str(ROOT / "manage.py"), "r2_backfill", "--workers", "2"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    # Killed once its uploads have begun (or after it finished: the end state
    # is asserted either way, never a timing).
    deadline = time.monotonic() + 60
    while not keys_in(moto_bucket) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    again = manage("r2_backfill", "--workers", "4", env=env)

    assert again.returncode == 0, again.stdout + again.stderr
    expected = [f"docs/doc-{i:03}.txt" for i in range(300)]
    assert keys_in(moto_bucket) == expected
    for key in (expected[0], expected[-1]):
        body = moto_bucket.client.get_object(Bucket=moto_bucket.name, Key=key)["Body"].read()
        assert body == f"document {int(key[9:12])}".encode() * 50
    final = manage("r2_backfill", env=env)
    assert final.returncode == 0 and "uploaded 0, adopted 0, skipped 300" in final.stdout
