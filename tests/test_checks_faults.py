"""The faults of issue 11 that settings (or the installed packages, or the
database) show by themselves: each set up for real, caught in its group with
its fix, and no secret in what is printed."""

import json
import unicodedata

import pytest
from storages.backends.s3 import S3Storage

from gallery.models import UserImage
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import run_checks
from tests.conftest import reset_storage_cache
from tests.support.servers import manage_env, run_manage

ACCOUNT = "0123456789abcdef0123456789abcdef"
R2_ENDPOINT = f"https://{ACCOUNT}.r2.cloudflarestorage.com"
S3 = "storages.backends.s3.S3Storage"


def result(check_id, alias="default"):
    results = run_checks([REGISTRY[check_id]], timeout=10)
    return next(r for r in results if r.details.get("storage") in (alias, None))


# --- AWS_S3_FILE_OVERWRITE -----------------------------------------------------------
def test_overwrite_left_at_the_default_fails_for_the_default_storage(settings):
    del settings.AWS_S3_FILE_OVERWRITE  # django-storages' default: True
    reset_storage_cache()
    found = result("r2.storages.file_overwrite")
    assert found.status == "fail"
    assert "a second upload named photo.jpg silently replaces another user's image" in found.message
    assert found.hint == "AWS_S3_FILE_OVERWRITE = False."
    settings.AWS_S3_FILE_OVERWRITE = False
    assert result("r2.storages.file_overwrite").status == "pass"


def test_overwrite_in_options_is_fixed_in_options(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": S3, "OPTIONS": {"file_overwrite": True}},
    }
    found = result("r2.storages.file_overwrite")
    assert found.status == "fail"
    assert found.hint == 'STORAGES["default"]["OPTIONS"]["file_overwrite"] = False.'


class OverwritingStorage(S3Storage):
    file_overwrite = True  # what some snippets on the web do

    def get_default_settings(self):
        return {**super().get_default_settings(), "file_overwrite": True}


def test_a_subclass_that_overwrites_is_named(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.OverwritingStorage"},
    }
    found = result("r2.storages.file_overwrite")
    assert found.status == "fail"


def test_a_second_s3_alias_that_overwrites_warns_and_staticfiles_may(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": S3, "OPTIONS": {"file_overwrite": True}},
        "staticfiles": {"BACKEND": S3, "OPTIONS": {"file_overwrite": True}},
    }
    results = {
        r.details["storage"]: r for r in run_checks([REGISTRY["r2.storages.file_overwrite"]])
    }
    assert results["default"].status == "pass"
    assert results["private"].status == "warn"
    assert results["staticfiles"].status == "pass"


# --- django-storages 1.14.4 -------------------------------------------------------------
def install_metadata(directory, version):
    """The installed-distribution metadata pip writes, for django-storages ``version``,
    first on sys.path: importlib.metadata (and so the check) sees that version."""
    info = directory / f"django_storages-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: django-storages\nVersion: {version}\n"
    )
    return directory


def test_django_storages_1_14_4_with_overwrite_fails_with_the_upgrade(
    settings, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(install_metadata(tmp_path, "1.14.4")))
    settings.AWS_S3_FILE_OVERWRITE = True
    found = result("r2.storages.storages_version")
    assert found.status == "fail"
    assert "exists() then answers False for every name" in found.message
    assert 'pip install "django-storages[s3]>=1.14.5"' in found.hint
    settings.AWS_S3_FILE_OVERWRITE = False  # the other way out
    assert result("r2.storages.storages_version").status == "pass"


def test_other_django_storages_versions_pass(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(install_metadata(tmp_path, "1.14.5")))
    found = result("r2.storages.storages_version")
    assert found.status == "pass" and "1.14.5" in found.message


# --- two settings for one credential ------------------------------------------------------
def test_an_outranking_secret_that_differs_fails_naming_settings_never_values(settings):
    settings.AWS_SECRET_ACCESS_KEY = "the-secret-the-team-rotated-to-0001"
    settings.AWS_S3_SECRET_ACCESS_KEY = "an-old-secret-left-in-settings-0002"
    found = result("r2.settings.credential_conflict")
    assert found.status == "fail"
    assert "AWS_S3_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY" in found.message
    assert "django-storages uses AWS_S3_SECRET_ACCESS_KEY" in found.message
    assert found.hint.startswith("Delete AWS_S3_SECRET_ACCESS_KEY")
    text = json.dumps(found.as_dict())
    assert "0001" not in text and "0002" not in text


def test_agreeing_credentials_in_two_places_pass(settings):
    settings.AWS_S3_ACCESS_KEY_ID = settings.AWS_ACCESS_KEY_ID = "same-key-id-everywhere"
    assert result("r2.settings.credential_conflict").status == "pass"


def test_options_key_id_outranks_the_settings(settings):
    settings.AWS_ACCESS_KEY_ID = "key-id-in-settings"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": S3, "OPTIONS": {"access_key": "key-id-in-options"}},
    }
    found = result("r2.settings.credential_conflict")
    assert found.status == "fail"
    assert 'django-storages uses STORAGES["default"]["OPTIONS"]["access_key"]' in found.message


def test_r2_check_prints_no_secret_for_a_credential_conflict(moto_bucket, tmp_path):
    env = manage_env(moto_bucket.server, moto_bucket.name, tmp_path)
    module = tmp_path / "conflict_settings.py"
    module.write_text(
        "from settings.local import *  # noqa\n"
        "AWS_S3_SECRET_ACCESS_KEY = 'outranking-secret-value-that-must-not-leak'\n"
    )
    from tests.support.servers import ROOT

    env.update(DJANGO_SETTINGS_MODULE="conflict_settings", PYTHONPATH=f"{tmp_path}:{ROOT}")
    for fmt in ("text", "json", "junit"):
        out = run_manage("r2_check", "--skip", "roundtrip,schema", "--format", fmt, env=env)
        assert "credential_conflict" in out.stdout
        assert "outranking-secret-value-that-must-not-leak" not in out.stdout + out.stderr
        assert moto_bucket.server.secret_key not in out.stdout + out.stderr


# --- the endpoint is a public domain ---------------------------------------------------------
@pytest.mark.parametrize(
    "endpoint, custom_domain, words",
    [
        ("https://pub-0123456789abcdef.r2.dev", None, "public r2.dev development URL"),
        ("https://media.example.com", "media.example.com", "public custom domain"),
    ],
)
def test_a_public_domain_as_endpoint_fails_with_the_api_endpoint(
    settings, endpoint, custom_domain, words
):
    settings.AWS_S3_ENDPOINT_URL = endpoint
    settings.AWS_S3_CUSTOM_DOMAIN = custom_domain
    found = result("r2.settings.endpoint")
    assert found.status == "fail"
    assert words in found.message and "every signed request" in found.message
    assert 'AWS_S3_ENDPOINT_URL = "https://<account id>.r2.cloudflarestorage.com"' in found.hint
    assert "AWS_S3_CUSTOM_DOMAIN" in found.hint


def test_the_emulators_path_style_public_domain_is_not_mistaken_for_the_endpoint(settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9000"
    settings.AWS_S3_CUSTOM_DOMAIN = "127.0.0.1:9000/bucket"
    assert result("r2.settings.endpoint").status == "pass"


# --- NFD names in the database -----------------------------------------------------------------
@pytest.mark.django_db
def test_names_that_collapse_under_nfc_warn_naming_the_rows(settings):
    from django.contrib.auth import get_user_model

    settings.AWS_S3_ENDPOINT_URL = R2_ENDPOINT
    settings.AWS_S3_REGION_NAME = "auto"
    user = get_user_model().objects.create(username="alice")
    nfc = unicodedata.normalize("NFC", "users/alice/images/Brötchen.jpg")
    first = UserImage.objects.create(user=user, image=nfc)
    second = UserImage.objects.create(user=user, image=unicodedata.normalize("NFD", nfc))
    UserImage.objects.create(user=user, image="users/alice/images/plain.jpg")

    found = result("r2.schema.unicode_names")

    assert found.status == "warn"
    assert f"row {first.pk}" in found.message and f"row {second.pk}" in found.message
    assert "(NFC)" in found.message and "(NFD)" in found.message
    assert "R2 stores keys in NFC" in found.message
    assert "Brötchen-2.jpg" in found.hint
    second.delete()
    lone = result("r2.schema.unicode_names")
    assert lone.status == "pass"


@pytest.mark.django_db
def test_unicode_names_apply_to_r2_only(settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9000"
    found = result("r2.schema.unicode_names")
    assert found.status == "pass" and "byte for byte" in found.message
