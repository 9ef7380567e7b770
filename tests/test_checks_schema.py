"""The schema group against the real database (SQLite by default,
PostgreSQL with DATABASE_URL): every check fails for its real cause, in
words, and passes once the cause is fixed."""

import json
import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from gallery.models import UserImage
from r2_toolkit.checks.registry import select
from r2_toolkit.checks.runner import run_checks
from r2_toolkit.checks.schema_record import schema_report
from tests.support.servers import run_manage

SCHEMA_IDS = [c.id for c in select() if c.group == "schema"]
R2_COLUMNS = ["storage_key", "public_url", "mime_type", "width", "height", "size_bytes"]


def schema_results():
    return {r.id: r for r in run_checks(select(only=SCHEMA_IDS), aliases=["default"])}


def add_legacy_row(name):
    user, _ = get_user_model().objects.get_or_create(username="alice")
    return UserImage.objects.create(user=user, image=name)


@pytest.fixture
def toolkit(settings):
    """Change R2_TOOLKIT keys for one test: ``toolkit(IMAGE_MODEL=...)``."""

    def change(**values):
        settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, **values}

    return change


@pytest.mark.django_db
def test_reference_schema_passes_but_warns_that_public_url_is_short_for_long_names():
    results = schema_results()
    statuses = {i: r.status for i, r in results.items()}
    assert statuses == {
        "r2.schema.database": "pass",
        "r2.schema.migrations": "pass",
        "r2.schema.image_model": "pass",
        "r2.schema.columns": "pass",
        "r2.schema.storage_key_length": "pass",
        "r2.schema.unicode_names": "pass",
        "r2.schema.file_fields": "pass",
        "r2.schema.file_name_lengths": "pass",
        # varchar(200) cannot hold the URL of a 500-character name, but no row has one.
        "r2.schema.public_url_length": "warn",
    }
    url_check = results["r2.schema.public_url_length"]
    assert "no rows yet" in url_check.message
    assert "max_length=600" in url_check.hint
    assert "migrations.AlterField(model_name='userimage', name='public_url'" in url_check.hint


@pytest.mark.django_db
def test_report_lists_the_columns_as_the_database_reports_them():
    report = schema_report()
    assert report["error"] is None
    assert (report["model"], report["table"]) == ("gallery.UserImage", "gallery_userimage")
    columns = {c["name"]: c for c in report["columns"]}
    assert all(columns[name]["null"] for name in R2_COLUMNS)
    assert columns["public_url"]["max_length"] == 200
    assert columns["storage_key"]["max_length"] == 500
    assert columns["width"]["max_length"] is None
    assert report["missing"] == [] and report["pending_migrations"] == []
    json.dumps(report)  # served as JSON by /debug/r2/schema


@pytest.mark.django_db
def test_public_url_too_short_for_an_existing_long_name_fails_with_the_alter_field():
    add_legacy_row("users/alice/images/short.png")
    long_name = "users/alice/images/" + "holiday-photo-" * 15 + ".jpg"
    add_legacy_row(long_name)
    result = schema_results()["r2.schema.public_url_length"]
    assert result.status == "fail"
    assert "public_url holds 200 characters" in result.message
    assert "(1 row(s) would not fit" in result.message
    assert long_name in result.message  # the example URL the operator can look up
    assert "max_length=600" in result.hint
    assert "makemigrations gallery" in result.hint
    assert result.details["longest_now"] > 200


@pytest.mark.django_db
def test_existing_names_that_fit_leave_only_the_warning():
    add_legacy_row("users/alice/images/cat.png")
    result = schema_results()["r2.schema.public_url_length"]
    assert result.status == "warn"
    assert "existing rows fit" in result.message


@pytest.mark.django_db
def test_a_location_prefix_that_overflows_storage_key_warns(settings):
    settings.AWS_LOCATION = "tenant-media/production/v2"
    result = schema_results()["r2.schema.storage_key_length"]
    assert result.status == "warn"
    assert "storage_key holds 500 characters" in result.message
    assert "max_length=600" in result.hint


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value, words",
    [
        ("gallery.Nope", "gallery.Nope"),
        ("nosuchapp.Image", "nosuchapp"),
        ("UserImage", 'expected "app_label.ModelName"'),
    ],
)
def test_bad_image_model_fails_in_words_and_the_others_skip(toolkit, value, words):
    toolkit(IMAGE_MODEL=value)
    results = schema_results()
    model_check = results["r2.schema.image_model"]
    assert model_check.status == "fail"
    assert words in model_check.message
    assert 'R2_TOOLKIT["IMAGE_MODEL"]' in model_check.hint
    # One mistake, reported once: the column checks skip and point at it.
    for check_id in ("r2.schema.columns", "r2.schema.public_url_length"):
        assert results[check_id].status == "skip"
        assert "r2.schema.image_model" in results[check_id].message
    assert words in schema_report()["error"]


@pytest.mark.django_db
def test_field_map_naming_a_missing_field_fails_naming_it(toolkit):
    toolkit(FIELD_MAP={"public_url": "cdn_url"})
    result = schema_results()["r2.schema.image_model"]
    assert result.status == "fail"
    assert "gallery.UserImage has no field 'cdn_url' (the toolkit's public_url)" in result.message
    assert "FIELD_MAP" in result.hint


@pytest.mark.django_db
def test_image_field_that_is_not_a_file_field_fails(toolkit):
    toolkit(IMAGE_FIELD="caption")
    result = schema_results()["r2.schema.image_model"]
    assert result.status == "fail"
    assert "gallery.UserImage.caption is a CharField, not a FileField" in result.message


@pytest.mark.django_db
def test_field_map_onto_a_column_of_the_wrong_type_fails_naming_it(toolkit):
    # A real slip: mapping width onto a text column that legacy rows always fill.
    toolkit(FIELD_MAP={"width": "caption"})
    result = schema_results()["r2.schema.columns"]
    assert result.status == "fail"
    assert "caption is varchar(255), not an integer type" in result.message
    assert "caption is NOT NULL, but legacy rows have no value for it" in result.message


@pytest.fixture
def migrated_back_to_0001():
    """The database as before the R2 columns' migration; restored afterwards."""
    call_command("migrate", "gallery", "0001", verbosity=0)
    yield
    call_command("migrate", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_unapplied_r2_columns_migration_fails_naming_the_columns(migrated_back_to_0001):
    results = schema_results()
    columns = results["r2.schema.columns"]
    assert columns.status == "fail"
    for name in R2_COLUMNS:
        assert name in columns.message
    assert "gallery.0002_r2_columns" in columns.message
    assert "is not applied" in columns.message
    assert columns.hint == "Run `python manage.py migrate gallery`."

    migrations = results["r2.schema.migrations"]
    assert migrations.status == "fail"
    assert "gallery.0002_r2_columns" in migrations.message
    assert "python manage.py migrate" in migrations.hint

    report = schema_report()
    assert report["missing"] == R2_COLUMNS
    assert "gallery.0002_r2_columns" in report["pending_migrations"]


@pytest.mark.django_db(transaction=True)
def test_faked_migration_fails_saying_the_columns_are_not_in_the_database(migrated_back_to_0001):
    call_command("migrate", "gallery", "0002", fake=True, verbosity=0)
    try:
        results = schema_results()
    finally:  # unrecord it, so the fixture can migrate for real
        call_command("migrate", "gallery", "0001", fake=True, verbosity=0)
    assert "gallery.0002_r2_columns" not in results["r2.schema.migrations"].message
    columns = results["r2.schema.columns"]
    assert columns.status == "fail"
    assert "recorded as applied, but the database does not have them" in columns.message
    assert "--fake gallery" in columns.hint


@pytest.mark.django_db(transaction=True)
def test_missing_table_fails_with_the_migrate_command(migrated_back_to_0001):
    call_command("migrate", "gallery", "zero", verbosity=0)
    result = schema_results()["r2.schema.image_model"]
    assert result.status == "fail"
    assert "The table gallery_userimage of gallery.UserImage does not exist" in result.message
    assert "migrate gallery` (it creates the table in gallery.0001_initial)" in result.hint


def test_unreachable_database_fails_with_its_host_but_never_its_password(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.test",
        "DATABASE_URL": "postgres://deploy:Sup3rS3cretPw@127.0.0.1:9/appdb",
    }
    result = run_manage("r2_check", "--only", ",".join(SCHEMA_IDS), "--format", "json", env=env)
    assert result.returncode == 1, result.stderr
    assert "Sup3rS3cretPw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    database = checks["r2.schema.database"]
    assert database["status"] == "fail"
    assert "postgresql database appdb at 127.0.0.1:9 does not answer" in database["message"]
    assert "DATABASES setting" in database["hint"]  # Django's name, not this site's variable
    assert checks["r2.schema.columns"]["status"] == "skip"


@pytest.mark.django_db
def test_username_path_that_leads_nowhere_fails_where_the_key_template_needs_it(toolkit):
    toolkit(USERNAME_PATH="owner__username", KEY_TEMPLATE=None)  # the demo names one
    assert schema_results()["r2.schema.image_model"].status == "pass"  # keys are the names
    toolkit(KEY_TEMPLATE="users/{username}/images/{basename}")
    result = schema_results()["r2.schema.image_model"]
    assert result.status == "fail"
    assert "R2_TOOLKIT[\"USERNAME_PATH\"] is 'owner__username'" in result.message
    assert '"user__username"' in result.hint


@pytest.mark.django_db
def test_legacy_name_outside_the_layout_is_measured_under_its_backfill_key(toolkit):
    # Not under users/<username>/images/: with a KEY_TEMPLATE the backfill moves
    # it there, with a hash, so its key and URL are longer than the name itself.
    toolkit(KEY_TEMPLATE="users/{username}/images/{basename}")
    add_legacy_row("scans/" + "x" * 170 + ".png")
    result = schema_results()["r2.schema.public_url_length"]
    assert result.status == "fail"
    assert "users/alice/images/" in result.message
