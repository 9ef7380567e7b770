"""A real Wagtail site (tests/wagtail_site): Wagtail's own images, renditions,
documents and avatars, whose schemas the toolkit does not own, saved while the
site kept its media on local disk, then moved to a real S3 server (moto) as
an operator would: ``manage.py r2_check``, ``r2_backfill --list-fields``,
``r2_backfill``, ``r2_audit`` in real processes, with nothing configured for
the toolkit but the storage (no record model, no browser origins).

Wagtail is a test-only dependency (the ``wagtail`` extra, installed by
``make install``); without it this module is skipped."""

import json
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gallery import emulator
from tests.support.servers import manage_env, postgres_database, run_manage

pytest.importorskip("wagtail")

SETTINGS = "tests.wagtail_site.settings"
FIELDS = (
    "wagtaildocs.Document.file",
    "wagtailimages.Image.file",
    "wagtailimages.Rendition.file",
    "wagtailusers.UserProfile.avatar",
)
LEGACY = "from tests.wagtail_site.legacy import main; main()"


def manage(*args, env, ok=(0,)):
    done = run_manage(*args, env=env, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in ok, f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done


def checks_of(done):
    return {c["id"]: c for c in json.loads(done.stdout)["checks"]}


def audit_of(env, ok=(0,)):
    return json.loads(manage("r2_audit", "--format", "json", env=env, ok=ok).stdout)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, moto_server):
    """A migrated Wagtail database, copied by each test (migrating takes ~10 s)."""
    where = tmp_path_factory.mktemp("wagtail-migrated")
    env = manage_env(moto_server, "unused", where, DJANGO_SETTINGS_MODULE=SETTINGS)
    manage("migrate", "-v0", env=env)
    return where / "db.sqlite3"


@dataclass
class WagtailSite:
    env: dict  # the manage.py processes' environment
    server: object  # tests.support.servers.S3Server
    bucket: str
    files: dict  # {"app.Model.field": [names the rows hold]}

    @property
    def media(self):
        return Path(self.env["MEDIA_ROOT"])

    def keys(self):
        listed = self.server.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"] for o in listed}


@pytest.fixture
def database(request, migrated, tmp_path):
    """The site's database URL, migrated: a copy of the module's SQLite file,
    or (``parametrize("database", ["postgres"], indirect=True)``) a fresh
    PostgreSQL database that the site migrates itself."""
    if getattr(request, "param", "sqlite") == "sqlite":
        shutil.copy(migrated, tmp_path / "db.sqlite3")
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}", False
    else:
        with postgres_database("r2_wagtail_site") as url:
            yield url, True


@pytest.fixture
def site(database, moto_server, tmp_path):
    """The Wagtail site with its legacy files in MEDIA_ROOT and an empty public
    bucket without CORS rules."""
    url, unmigrated = database
    bucket = moto_server.new_bucket_name("wagtail")
    emulator.provision(moto_server.client(), bucket, (), public=True, cors=False)
    env = manage_env(
        moto_server, bucket, tmp_path, DATABASE_URL=url, DJANGO_SETTINGS_MODULE=SETTINGS
    )
    if unmigrated:
        manage("migrate", "-v0", env=env)
    created = manage("shell", "-c", LEGACY, env=env).stdout
    files = {}
    for field, name in re.findall(r"^FILE (\S+) (.+)$", created, re.M):
        files.setdefault(field, []).append(name)
    assert sorted(files) == sorted(FIELDS) and len(files["wagtailimages.Image.file"]) == 4
    return WagtailSite(env, moto_server, bucket, files)


# --- the gate and the audit before the backfill -------------------------------------------
def test_before_the_backfill_the_gate_fails_on_the_sample_alone_naming_r2_backfill(site):
    done = manage("r2_check", "--format", "json", env=site.env, ok=(1,))
    checks = checks_of(done)

    failing = {i: c["message"] for i, c in checks.items() if c["status"] == "fail"}
    assert list(failing) == ["r2.objects.sample"], failing
    sample = checks["r2.objects.sample"]
    assert "waiting for the backfill" in sample["message"]
    assert "r2_backfill" in sample["hint"]
    assert set(sample["details"]["missing"]) <= set(FIELDS)
    # Wagtail's fields are the targets; no record model, no browser origins: skips, no failures.
    targets = checks["r2.schema.file_fields"]["details"]["fields"]
    assert set(FIELDS) <= set(targets), targets
    assert checks["r2.schema.image_model"]["status"] == "skip"
    cors = [c for c in checks.values() if c["group"] == "cors"]
    assert cors and {c["status"] for c in cors} == {"skip"}
    assert site.server.secret_key not in done.stdout + done.stderr


def test_before_the_backfill_the_audit_counts_legacy_rows_and_a_lost_file_as_missing(site):
    audit = audit_of(site.env)  # legacy rows alone are no failure: exit 0
    every = sum(len(names) for names in site.files.values())
    assert audit["ok"] and audit["summary"]["legacy_row"] == every, audit["summary"]

    lost = site.files["wagtaildocs.Document.file"][0]  # neither in the bucket nor on disk any more
    (site.media / lost).unlink()
    audit = audit_of(site.env, ok=(1,))
    missing = [f for f in audit["findings"] if f["kind"] == "missing_object"]
    assert [f["storage_key"] for f in missing] == [lost], audit["findings"]
    assert audit["summary"]["legacy_row"] == every - 1


DEBUG_PAGE = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(HTTP_HOST="localhost")
client.force_login(get_user_model().objects.get(username="editor"))
answer = client.get("/debug/r2/config")
print("CONFIG", answer.status_code, answer["Content-Type"])
print("WAGTAIL", client.get("/admin/").status_code)
"""


def test_the_toolkit_urls_answer_before_wagtails_catch_all(site):
    shown = manage("shell", "-c", DEBUG_PAGE, env=site.env).stdout
    assert "CONFIG 200 application/json" in shown, shown
    assert "WAGTAIL 200" in shown, shown  # Wagtail's own admin still answers


# --- the backfill and afterwards ----------------------------------------------------------
def test_list_fields_names_wagtails_file_fields_with_their_row_counts(site):
    listed = manage("r2_backfill", "--list-fields", env=site.env).stdout
    for field in FIELDS:
        line = next((row for row in listed.splitlines() if field in row), None)
        assert line is not None, listed
        assert re.search(rf"\b{len(site.files[field])}\b", line.replace(field, "")), line
    assert site.keys() == set()  # listing uploads nothing


ROW_NAMES = """
from wagtail.documents.models import Document
from wagtail.images.models import Image, Rendition
from wagtail.users.models import UserProfile
for model, field in ((Image, "file"), (Rendition, "file"), (Document, "file"), (UserProfile, "avatar")):
    for row in model.objects.exclude(**{field: ""}).order_by("pk"):
        print("ROW", model._meta.label, row.pk, getattr(row, field).name, getattr(row, field).url)
"""


def row_names(env):
    shown = manage("shell", "-c", ROW_NAMES, env=env).stdout
    return re.findall(r"^ROW (\S+) (\d+) (\S+) (\S+)$", shown, re.M)


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_backfill_uploads_every_file_under_its_rows_own_name_and_the_urls_serve_it(site):
    before = row_names(site.env)
    done = manage("r2_backfill", env=site.env)
    assert site.server.secret_key not in done.stdout + done.stderr

    after = row_names(site.env)
    assert after == before  # no row's name changed
    every = {name for names in site.files.values() for name in names}
    assert site.keys() == every
    for _model, _pk, name, url in after:  # image.file.url, document.file.url, avatar.url
        status, body = get(url)
        assert (status, body) == (200, (site.media / name).read_bytes()), url

    checks = checks_of(manage("r2_check", "--format", "json", env=site.env))  # exit 0
    assert checks["r2.objects.sample"]["status"] == "pass"
    clean = audit_of(site.env)
    assert clean["ok"] and clean["findings"] == [], clean

    gone = site.files["wagtailimages.Rendition.file"][0]
    site.server.client().delete_object(Bucket=site.bucket, Key=gone)
    (site.media / gone).unlink()  # nothing left to re-upload it from
    audit = audit_of(site.env, ok=(1,))
    assert [(f["kind"], f["storage_key"]) for f in audit["findings"]] == [("missing_object", gone)]
