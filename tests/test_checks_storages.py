"""The 'storages' checks: each fails for its real cause and passes once fixed.

Static checks need no server; they run through run_checks, as r2_check runs
them, against real django-storages instances.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import django
import pytest
from django.core.files.storage import default_storage, storages
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from r2_toolkit import checks  # noqa: F401  (registers every check)
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import run_checks
from tests.conftest import reset_storage_cache

ROOT = Path(__file__).resolve().parent.parent
S3 = "storages.backends.s3.S3Storage"
STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def result(check_id, alias="default"):
    """The result of one check for one alias, run as r2_check runs it."""
    results = run_checks([REGISTRY[check_id]], timeout=10)
    return next(r for r in results if r.details.get("storage", alias) == alias)


@pytest.fixture(autouse=True)
def fresh_storages():
    reset_storage_cache()
    yield
    reset_storage_cache()


def test_the_local_defaults_pass_every_storages_check():
    results = run_checks([c for c in REGISTRY.values() if c.group == "storages"], timeout=10)
    assert {r.status for r in results} <= {"pass", "skip"}, [r.message for r in results]


def test_filesystem_default_storage_fails_until_it_is_s3(settings):
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": STATICFILES,
    }
    broken = result("r2.storages.default_backend")
    assert broken.status == "fail"
    assert "FileSystemStorage" in broken.message and "disk" in broken.message
    assert S3 in broken.hint

    settings.STORAGES = {"default": {"BACKEND": S3}, "staticfiles": STATICFILES}
    assert result("r2.storages.default_backend").status == "pass"


def test_a_backend_that_cannot_be_imported_is_named_not_raised(settings):
    settings.STORAGES = {
        "default": {"BACKEND": "storages.backends.s4.S4Storage"},
        "staticfiles": STATICFILES,
    }
    broken = result("r2.storages.default_backend")
    assert broken.status == "fail"
    assert "storages.backends.s4.S4Storage" in broken.message
    assert "Traceback" not in broken.message


def test_a_leftover_default_file_storage_fails_until_deleted(settings):
    settings.DEFAULT_FILE_STORAGE = S3
    broken = result("r2.storages.legacy_setting")
    assert broken.status == "fail"
    assert "DEFAULT_FILE_STORAGE" in broken.message and "local disk" in broken.message
    assert (
        broken.hint == f'Delete DEFAULT_FILE_STORAGE and set STORAGES["default"] = '
        f'{{"BACKEND": "{S3}"}}.'
    )

    del settings.DEFAULT_FILE_STORAGE
    assert result("r2.storages.legacy_setting").status == "pass"


def test_storages_missing_from_installed_apps_fails_until_added(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "storages"]
    broken = result("r2.storages.installed_app")
    assert broken.status == "fail"
    assert '"storages"' in broken.hint

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "storages"]
    assert result("r2.storages.installed_app").status == "pass"


@pytest.mark.skipif(django.VERSION < (5, 1), reason="Django < 5.1 fills in 'staticfiles'")
def test_storages_without_staticfiles_fails_until_added(settings):
    settings.STORAGES = {"default": {"BACKEND": S3}}
    broken = result("r2.storages.staticfiles_alias")
    assert broken.status == "fail"
    assert "staticfiles" in broken.message
    assert "StaticFilesStorage" in broken.hint

    settings.STORAGES = {"default": {"BACKEND": S3}, "staticfiles": STATICFILES}
    assert result("r2.storages.staticfiles_alias").status == "pass"


@pytest.mark.skipif(django.VERSION >= (5, 1), reason="Django 5.1 stopped filling it in")
def test_before_django_5_1_staticfiles_is_filled_in_and_passes(settings):
    settings.STORAGES = {"default": {"BACKEND": S3}}
    assert "staticfiles" in settings.STORAGES
    assert result("r2.storages.staticfiles_alias").status == "pass"


@pytest.mark.parametrize(
    "key, guess",
    [
        ("bucket", "bucket_name"),
        ("AWS_S3_REGION_NAME", "region_name"),
        ("querystring_auht", "querystring_auth"),
    ],
)
def test_an_unknown_options_key_is_explained_with_the_likely_fix(settings, key, guess):
    settings.STORAGES = {
        "default": {"BACKEND": S3, "OPTIONS": {key: "x"}},
        "staticfiles": STATICFILES,
    }
    broken = result("r2.storages.options")
    assert broken.status == "fail"
    assert repr(key) in broken.message and "S3Storage" in broken.message
    assert (
        f'Remove "{key}" from STORAGES["default"]["OPTIONS"]; did you mean "{guess}"?'
        == broken.hint
    )

    settings.STORAGES = {
        "default": {"BACKEND": S3, "OPTIONS": {guess: "x"}},
        "staticfiles": STATICFILES,
    }
    assert result("r2.storages.options").status == "pass"


def test_other_improperly_configured_options_are_reported_in_words(settings):
    settings.STORAGES = {
        "default": {"BACKEND": S3, "OPTIONS": {"location": "/media"}},
        "staticfiles": STATICFILES,
    }
    broken = result("r2.storages.options")
    assert broken.status == "fail"
    assert "leading slash" in broken.message


def test_a_storage_built_before_the_settings_were_complete_fails(settings):
    # The seed app's bug: the storage was built (at import time) while the
    # bucket setting still held an early value.
    settings.AWS_STORAGE_BUCKET_NAME = "bucket-from-import-time"
    assert storages["default"].bucket_name == "bucket-from-import-time"
    settings.AWS_STORAGE_BUCKET_NAME = "media-bucket"

    broken = result("r2.storages.cached_instance")
    assert broken.status == "fail"
    assert "'bucket-from-import-time'" in broken.message and "'media-bucket'" in broken.message
    assert "import time" in broken.hint

    # A fresh process builds it from the final settings.
    reset_storage_cache()
    assert result("r2.storages.cached_instance").status == "skip"
    assert storages["default"].bucket_name == "media-bucket"
    assert result("r2.storages.cached_instance").status == "pass"


def test_a_stale_default_storage_is_caught(settings):
    settings.AWS_S3_CUSTOM_DOMAIN = None
    default_storage._setup()
    settings.AWS_S3_CUSTOM_DOMAIN = "media.example.com"

    broken = result("r2.storages.cached_instance")
    assert broken.status == "fail"
    assert "custom_domain is None" in broken.message
    assert "'media.example.com'" in broken.message


def test_a_cached_instance_never_shows_its_keys(settings):
    settings.AWS_SECRET_ACCESS_KEY = "old-secret-value-123456"
    storages["default"]
    settings.AWS_SECRET_ACCESS_KEY = "new-secret-value-654321"
    settings.AWS_STORAGE_BUCKET_NAME = "changed-bucket"

    broken = result("r2.storages.cached_instance")
    assert broken.status == "fail"
    text = broken.message + broken.hint + str(broken.details)
    assert "secret-value" not in text


def test_manage_py_check_deploy_reports_a_seeded_fault(settings):
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": STATICFILES,
    }
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--deploy", "--tag", "r2")
    assert "r2.storages.default_backend" in str(raised.value)
    assert "FileSystemStorage" in str(raised.value)


def test_r2_check_fails_on_the_seed_apps_settings_module():
    # DEFAULT_FILE_STORAGE written in a real settings module, as the seed app
    # had it, through the real command in its own process.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.seed_fault_settings"}
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "r2_check",
            "--format",
            "json",
            "--only",
            "r2.storages.legacy_setting,r2.storages.default_backend",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if django.VERSION < (5, 1):
        # Django itself refuses both settings at once: the run cannot start.
        assert run.returncode == 2 and "DEFAULT_FILE_STORAGE" in run.stderr
        assert "Traceback" not in run.stderr
        return
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "r2.storages.default_backend": "fail",
        "r2.storages.legacy_setting": "fail",
    }
