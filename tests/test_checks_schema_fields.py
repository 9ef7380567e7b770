"""The schema group on any site: every target file field is checked (table,
column, migrations, name and key lengths), the record model only where one
is configured, and no hint tells a site to write migrations into an app it
does not own."""

# The fixtures come from test_checks_schema; pytest passes them in by name.
# ruff: noqa: F811

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from gallery.models import Attachment
from r2_toolkit.checks.schema import site_owns
from tests.test_checks_schema import (  # noqa: F401  (fixtures)
    add_legacy_row,
    migrated_back_to_0001,
    schema_results,
    toolkit,
)

RECORD_IDS = (
    "r2.schema.image_model",
    "r2.schema.columns",
    "r2.schema.public_url_length",
    "r2.schema.storage_key_length",
)


@pytest.mark.django_db
def test_without_a_record_model_its_checks_skip_and_the_file_fields_are_checked(toolkit):
    toolkit(IMAGE_MODEL=None)
    add_legacy_row("users/alice/images/cat.png")
    results = schema_results()
    for check_id in RECORD_IDS:
        assert results[check_id].status == "skip"
        assert "No record model configured" in results[check_id].message
    fields = results["r2.schema.file_fields"]
    assert fields.status == "pass"
    assert {"gallery.UserImage.image", "gallery.Attachment.file"} <= set(fields.details["fields"])
    assert results["r2.schema.file_name_lengths"].status == "pass"


@pytest.mark.django_db
def test_a_record_model_keeping_none_of_the_six_columns_is_not_required_to(toolkit):
    # FIELD_MAP maps any subset; an absent reference column is simply not kept.
    toolkit(IMAGE_MODEL="gallery.Attachment", IMAGE_FIELD="file")
    results = schema_results()
    assert results["r2.schema.image_model"].status == "pass"
    for check_id in RECORD_IDS[1:]:
        assert results[check_id].status == "skip", results[check_id]
        assert "keeps no" in results[check_id].message or "keeps none" in results[check_id].message


@pytest.mark.django_db
def test_a_file_fields_entry_that_names_no_file_field_fails_naming_it(toolkit):
    toolkit(FILE_FIELDS=["gallery.UserImage.caption"])
    results = schema_results()
    fields = results["r2.schema.file_fields"]
    assert fields.status == "fail"
    assert "'gallery.UserImage.caption' is not a FileField" in fields.message
    assert "app_label.Model.field" in fields.hint
    assert results["r2.schema.file_name_lengths"].status == "skip"


@pytest.mark.django_db(transaction=True)
def test_a_file_field_whose_app_has_unapplied_migrations_fails_with_the_command(
    migrated_back_to_0001,
):
    fields = schema_results()["r2.schema.file_fields"]
    assert fields.status == "fail"
    assert "gallery.UserImage.image: 3 migration(s) of gallery are not applied" in fields.message
    assert "gallery.Attachment.file: the table gallery_attachment does not exist" in fields.message
    assert "`python manage.py migrate gallery`" in fields.hint


@pytest.mark.django_db
def test_a_key_over_the_stores_limit_fails_counting_exactly_the_rows():
    user = get_user_model().objects.create(username="alice")
    # 349 characters fit the column (500), but as UTF-8 the key is 1,029 bytes.
    Attachment.objects.create(user=user, file="docs/" + "€" * 340 + ".pdf")
    Attachment.objects.create(user=user, file="docs/" + "€" * 300 + ".pdf")  # 909 bytes
    Attachment.objects.create(user=user, file="docs/fine.pdf")
    lengths = schema_results()["r2.schema.file_name_lengths"]
    assert lengths.status == "fail"
    assert "gallery.Attachment.file: 1 row(s), e.g. docs/€€" in lengths.message
    assert "1024 bytes" in lengths.message
    measured = lengths.details["fields"]["gallery.Attachment.file"]
    assert measured["key_too_long"] == 1 and measured["longest_key"] == 1029


@pytest.mark.django_db
def test_names_longer_than_their_column_warn_with_the_sites_own_fix():
    if connection.vendor != "sqlite":
        pytest.skip("only a database that does not enforce varchar lengths holds such names")
    user = get_user_model().objects.create(username="alice")
    Attachment.objects.create(user=user, file="docs/" + "a" * 600 + ".pdf")
    lengths = schema_results()["r2.schema.file_name_lengths"]
    assert lengths.status == "warn"
    assert "1 row(s) of gallery.Attachment.file hold names longer than its column" in (
        lengths.message
    )
    assert "`python manage.py makemigrations gallery`" in lengths.hint  # the site's own app


@pytest.mark.django_db
def test_the_count_of_rows_that_would_not_fit_is_exact_never_zero(toolkit):
    # A short name whose backfill key is long (a long username in the key
    # template's layout): counting raw names said "about 0 row(s) would not fit".
    toolkit(KEY_TEMPLATE="users/{username}/images/{basename}")
    user = get_user_model().objects.create(username="u" * 150)
    from gallery.models import UserImage

    UserImage.objects.create(user=user, image="scans/x.png")
    UserImage.objects.create(user=user, image="scans/y.png")
    result = schema_results()["r2.schema.public_url_length"]
    assert result.status == "fail"
    assert "(2 row(s) would not fit" in result.message
    assert result.details["rows_too_long"] == 2


def test_only_the_sites_own_apps_are_its_to_write_migrations_for():
    assert site_owns("gallery")
    assert not site_owns("auth")  # django.contrib, under site-packages
    assert not site_owns("storages")


@pytest.mark.django_db
def test_a_record_model_from_an_installed_package_is_never_told_to_makemigrations(toolkit):
    # Mapping width onto a NOT NULL text column of a model the site does not own.
    toolkit(IMAGE_MODEL="auth.User", IMAGE_FIELD="username", FIELD_MAP={"width": "first_name"})
    columns = schema_results()["r2.schema.columns"]
    assert columns.status == "fail"
    assert "first_name is varchar(150), not an integer type" in columns.message
    assert "makemigrations" not in columns.hint
    assert "auth.User belongs to the installed app 'auth'" in columns.hint
    assert 'R2_TOOLKIT["FIELD_MAP"]' in columns.hint and 'R2_TOOLKIT["FILE_FIELDS"]' in columns.hint


@pytest.mark.django_db
def test_the_schema_view_lists_the_file_fields_and_needs_no_record_model(toolkit):
    from r2_toolkit.checks.schema_record import schema_report

    toolkit(IMAGE_MODEL=None)
    report = schema_report()
    assert report["error"] is None and report["model"] is None
    fields = {f["field"]: f for f in report["file_fields"]}
    assert fields["gallery.UserImage.image"] == {
        "field": "gallery.UserImage.image",
        "table": "gallery_userimage",
        "column": "image",
        "exists": True,
        "max_length": 500,
    }
