"""Issue 20: the one rule for the STORAGES alias a run works on
(core.storage.chosen_s3_alias), and the callers that wrap its sentence."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from r2_toolkit.core.files import file_targets
from r2_toolkit.core.storage import StorageAliasError, chosen_s3_alias
from r2_toolkit.core.target import TargetError
from r2_toolkit.migrations_r2.bucket import open_bucket
from r2_toolkit.toolkit.views import storage_context

S3 = {"BACKEND": "storages.backends.s3.S3Storage"}
DISK = {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_no_alias_is_the_first_s3_one_default_first(settings):
    settings.STORAGES = {"disk": DISK, "private": S3, "default": S3}
    assert chosen_s3_alias() == "default"
    settings.STORAGES = {"default": DISK, "private": S3}
    assert chosen_s3_alias(None) == "private"


def test_a_given_s3_alias_is_kept(settings):
    settings.STORAGES = {"default": S3, "private": S3}
    assert chosen_s3_alias("private") == "private"


@pytest.mark.parametrize(
    "alias, sentence",
    [
        ("nope", "STORAGES has no S3 alias 'nope'; the S3 aliases are: default, private."),
        ("disk", "STORAGES['disk'] is not an S3 storage; the S3 aliases are: default, private."),
    ],
)
def test_a_given_alias_that_is_no_s3_one_names_the_s3_aliases(settings, alias, sentence):
    settings.STORAGES = {"default": S3, "private": S3, "disk": DISK}
    with pytest.raises(StorageAliasError) as raised:
        chosen_s3_alias(alias)
    assert str(raised.value) == sentence
    assert isinstance(raised.value, ValueError)


def test_without_any_s3_alias_a_given_one_says_none(settings):
    settings.STORAGES = {"default": DISK}
    with pytest.raises(StorageAliasError, match=r"the S3 aliases are: none\.$"):
        chosen_s3_alias("default")


def test_without_any_s3_alias_the_sentence_says_how_to_set_one(settings):
    settings.STORAGES = {"default": DISK}
    with pytest.raises(StorageAliasError) as raised:
        chosen_s3_alias()
    assert str(raised.value) == (
        "STORAGES has no S3 backend; set "
        "STORAGES['default']['BACKEND'] = 'storages.backends.s3.S3Storage'."
    )


def test_open_bucket_raises_the_same_sentence(settings):
    settings.STORAGES = {"default": S3, "disk": DISK}
    with pytest.raises(StorageAliasError, match=r"^STORAGES\['disk'\] is not an S3 storage"):
        open_bucket(1, "disk")


def test_field_mode_still_refuses_a_disk_alias_with_its_hint(settings):
    settings.STORAGES = {"default": S3, "disk": DISK}
    with pytest.raises(TargetError) as raised:
        file_targets("disk")
    assert raised.value.sentence() == (
        "STORAGES['disk'] is not an S3 storage; the S3 aliases are: default. "
        "Pass --storage with an alias whose BACKEND is storages.backends.s3.S3Storage."
    )


def test_r2_check_storage_names_the_s3_aliases_and_exits_2(settings):
    settings.STORAGES = {"default": S3, "disk": DISK}
    with pytest.raises(CommandError) as raised:
        call_command("r2_check", "--storage", "disk")
    assert raised.value.returncode == 2
    assert str(raised.value) == (
        "--storage is not an S3 alias: "
        "STORAGES['disk'] is not an S3 storage; the S3 aliases are: default."
    )


def test_the_debug_views_refuse_a_non_s3_alias_and_take_none_without_one(settings, rf):
    settings.STORAGES = {"default": S3, "disk": DISK}
    with pytest.raises(StorageAliasError):
        storage_context(rf.get("/debug/r2/cors", {"storage": "disk"}))
    assert storage_context(rf.get("/debug/r2/cors")).alias == "default"
    settings.STORAGES = {"default": DISK}
    assert storage_context(rf.get("/debug/r2/cors")).alias is None
