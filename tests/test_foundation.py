"""The foundation: settings load, the schema's migration history, the
emulator, and the command's exit codes for runs that cannot start."""

import os

import pytest
from django.db import connection

from tests.support.servers import run_manage


def manage(*args, env=None, settings="settings.local"):
    return run_manage(*args, env={**os.environ, "DJANGO_SETTINGS_MODULE": settings, **(env or {})})


def test_production_settings_name_every_missing_variable():
    result = manage(
        "r2_check",
        settings="settings.production",
        env={"DJANGO_SECRET_KEY": "", "AWS_STORAGE_BUCKET_NAME": "b"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr  # empty counts as unset
    assert "AWS_STORAGE_BUCKET_NAME" not in result.stderr
    assert "AWS_SECRET_ACCESS_KEY" in result.stderr


def test_unknown_settings_module_is_exit_2_in_one_sentence():
    result = manage("r2_check", "--settings", "no_such_settings")
    assert result.returncode == 2
    assert "no_such_settings" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_image_table_has_the_reference_schema():
    with connection.cursor() as cursor:
        columns = {
            c.name: c
            for c in connection.introspection.get_table_description(cursor, "gallery_userimage")
        }
    for name in ("storage_key", "public_url", "mime_type", "width", "height", "size_bytes"):
        assert columns[name].null_ok, name
    assert {
        "id",
        "image",
        "image_type",
        "is_primary",
        "caption",
        "uploaded_at",
        "updated_at",
        "user_id",
    } <= set(columns)


def test_moto_bucket_is_public_and_has_cors(moto_bucket):
    import urllib.request

    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key="hello.txt", Body=b"hi")
    with urllib.request.urlopen(f"{moto_bucket.public_base}/hello.txt", timeout=5) as response:
        assert response.read() == b"hi"
    rules = moto_bucket.client.get_bucket_cors(Bucket=moto_bucket.name)["CORSRules"]
    assert "PUT" in rules[0]["AllowedMethods"]
