"""r2_backfill's record mode on a model that keeps only some of the R2
fields (tests/plain_site: ``plainfiles.Record`` with
storage_key, public_url and mime_type, its owner optional), through
manage.py in real processes: without a KEY_TEMPLATE every row keeps its
name (a NULL owner is fine); with one the row's name becomes its key in the
same UPDATE, so ``url()`` is its ``public_url``, and a row without owner
fails with that reason."""

import json

import pytest

from gallery.legacy import image_bytes
from tests.support.backfill import fetch, keys_in
from tests.support.servers import manage_env, run_manage

SETTINGS = "tests.plain_site.record_settings"
FILES = {"legacy/a.png": image_bytes(4, 3, "PNG", seed=1), "records/b.pdf": b"%PDF-1.5 b"}
SEED = """
from django.contrib.auth.models import User
from tests.plain_site.plainfiles.models import Record
dora = User.objects.create(username="dora")
Record.objects.create(owner=dora, image="legacy/a.png")
Record.objects.create(owner=None, image="records/b.pdf")
"""
READ_BACK = """
import json
from tests.plain_site.plainfiles.models import Record
print(json.dumps([
    {"name": r.image.name, "url": r.image.url, "key": r.storage_key,
     "public_url": r.public_url, "mime": r.mime_type}
    for r in Record.objects.order_by("pk")
]))
"""


def site(moto_bucket, tmp_path, template=""):
    media = tmp_path / "media"
    for name, content in FILES.items():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(content)
    env = manage_env(
        moto_bucket.server,
        moto_bucket.name,
        tmp_path,
        DJANGO_SETTINGS_MODULE=SETTINGS,
        TEST_KEY_TEMPLATE=template,
    )
    for args in (["migrate", "-v0"], ["shell", "-c", SEED]):
        done = run_manage(*args, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    return env


def backfill_and_read(env, tmp_path):
    report = tmp_path / "report.jsonl"
    done = run_manage("r2_backfill", "--report", str(report), env=env)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    rows = json.loads(run_manage("shell", "-c", READ_BACK, env=env).stdout.splitlines()[-1])
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    return done, rows, lines


def test_without_a_template_rows_keep_their_names_and_a_null_owner_is_fine(moto_bucket, tmp_path):
    env = site(moto_bucket, tmp_path)

    done, rows, _ = backfill_and_read(env, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert [row["name"] for row in rows] == list(FILES)
    assert [row["key"] for row in rows] == list(FILES)
    assert [row["mime"] for row in rows] == ["image/png", "application/pdf"]
    for row in rows:
        assert row["url"] == row["public_url"]
        assert fetch(row["url"]) == FILES[row["name"]]
    assert keys_in(moto_bucket) == sorted(FILES)


@pytest.mark.parametrize("template", ["owners/{username}/{stem}-{hash}{ext}"])
def test_a_template_renames_the_row_to_its_key_and_fails_the_row_without_owner(
    moto_bucket, tmp_path, template
):
    env = site(moto_bucket, tmp_path, template)

    done, rows, lines = backfill_and_read(env, tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    renamed, ownerless = rows
    assert renamed["name"].startswith("owners/dora/a-") and renamed["name"].endswith(".png")
    assert renamed["key"] == renamed["name"]
    assert renamed["url"] == renamed["public_url"]
    assert fetch(renamed["url"]) == FILES["legacy/a.png"]
    assert ownerless == {**ownerless, "name": "records/b.pdf", "key": None}
    (failed,) = [line for line in lines if line["status"] == "failed"]
    assert "no owner" in failed["reason"]
    assert keys_in(moto_bucket) == [renamed["key"]]
