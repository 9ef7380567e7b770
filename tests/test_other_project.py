"""The toolkit installed into someone else's project (tests/other_project):
its image model is photos.Photo with its own column names, the reference
app is not installed, and the toolkit's URLs live under /ops/. Run as an
operator would, through manage.py in a real process."""

import json
import os

import pytest

from r2_toolkit.checks.registry import GROUPS, select
from tests.support.servers import manage_env, run_manage

SETTINGS = "tests.other_project.settings"
SCHEMA_IDS = [c.id for c in select() if c.group == "schema"]
TOKEN = "other-project-token"
R2_COLUMNS = ["object_key", "cdn_url", "content_type", "pixel_width", "pixel_height", "byte_size"]

# A legacy row outside the app's layout, and the schema view as a tool reads it.
SEED_AND_READ_SCHEMA_VIEW = f"""
import json
from django.contrib.auth.models import User
from django.test import Client
from tests.other_project.photos.models import Photo
owner = User.objects.create(username="carol")
Photo.objects.create(owner=owner, file="uploads/2019/07/" + "p" * 200 + ".jpg")
answer = Client(HTTP_HOST="localhost").get("/ops/debug/r2/schema",
                                          HTTP_AUTHORIZATION="Bearer {TOKEN}")
print("STATUS", answer.status_code)
print("BODY", answer.content.decode())
"""


def other_project_env(tmp_path, base=None):
    env = dict(base or os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "R2_TOOLKIT_TOKEN": TOKEN,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}",
        }
    )
    return env


def manage_ok(*args, env):
    result = run_manage(*args, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result


def r2_check_json(*args, env):
    result = run_manage("r2_check", "--format", "json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result, {c["id"]: c for c in json.loads(result.stdout)["checks"]}


@pytest.fixture
def migrated(tmp_path):
    env = other_project_env(tmp_path)
    manage_ok("migrate", "-v0", env=env)
    return env


def test_schema_checks_pass_for_a_differently_named_image_model(migrated):
    seeded = manage_ok("shell", "-c", SEED_AND_READ_SCHEMA_VIEW, env=migrated)
    result, checks = r2_check_json("--only", ",".join(SCHEMA_IDS), env=migrated)
    assert result.returncode == 0, checks
    assert {c["status"] for c in checks.values()} == {"pass"}, checks
    assert checks["r2.schema.image_model"]["details"] == {
        "model": "photos.Photo",
        "table": "photos_photo",
    }
    assert set(checks["r2.schema.columns"]["details"]["columns"]) == set(R2_COLUMNS)
    url_length = checks["r2.schema.public_url_length"]
    assert url_length["details"]["column"] == "cdn_url"
    assert url_length["details"]["longest_now"] > 200  # the long legacy name was measured

    # The debug view under the project's own prefix shows the same table.
    assert "STATUS 200" in seeded.stdout
    report = json.loads(seeded.stdout.split("BODY ", 1)[1])
    assert (report["model"], report["table"], report["missing"]) == (
        "photos.Photo",
        "photos_photo",
        [],
    )
    assert {c["name"] for c in report["columns"]} >= set(R2_COLUMNS)


def test_unapplied_r2_fields_migration_is_named_with_the_projects_column_names(migrated):
    manage_ok("migrate", "photos", "0001", "-v0", env=migrated)
    result, checks = r2_check_json("--only", ",".join(SCHEMA_IDS), env=migrated)
    assert result.returncode == 1
    columns = checks["r2.schema.columns"]
    assert columns["status"] == "fail"
    assert all(name in columns["message"] for name in R2_COLUMNS)
    assert "photos.0002_r2_fields" in columns["message"]
    assert columns["hint"] == "Run `python manage.py migrate photos`."
    assert "photos.0002_r2_fields" in checks["r2.schema.migrations"]["message"]


def test_every_check_passes_against_a_real_bucket(moto_bucket, tmp_path):
    env = other_project_env(tmp_path, manage_env(moto_bucket.server, moto_bucket.name, tmp_path))
    manage_ok("migrate", "-v0", env=env)
    result, checks = r2_check_json(env=env)
    failing = {i: c["message"] for i, c in checks.items() if c["status"] == "fail"}
    assert result.returncode == 0 and failing == {}, failing
    assert {c["group"] for c in checks.values()} == set(GROUPS)
    assert checks["r2.roundtrip.public_url"]["status"] == "pass"
