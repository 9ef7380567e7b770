"""The site's file fields as targets, and the one key function."""

import pytest
from django.core.files.storage import storages

from r2_toolkit.core.files import file_targets, object_key, parse_label
from r2_toolkit.core.target import TargetError


@pytest.mark.parametrize(
    "name, key",
    [
        ("users/bob/files//doc1.txt", "users/bob/files/doc1.txt"),
        ("./doc2.txt", "doc2.txt"),
        ("users\\bob\\files\\doc3.txt", "users/bob/files/doc3.txt"),
        ("/users/bob/files/doc4.txt", "users/bob/files/doc4.txt"),
        ("users/bob/x/../files/doc5.txt", "users/bob/files/doc5.txt"),
        ("photos/a b.jpg", "photos/a b.jpg"),
    ],
)
def test_the_key_of_a_name_is_what_the_storage_itself_serves(name, key):
    storage = storages["default"]
    assert object_key(storage, name) == key
    assert storage.url(name).endswith("/" + key.replace(" ", "%20"))


@pytest.mark.parametrize("name", ["", None, "../outside.jpg", "a/../../b.jpg"])
def test_a_name_the_storage_refuses_has_no_key(name):
    under_media = storages.create_storage(
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"location": "media"}}
    )
    assert object_key(under_media, name) is None


def test_by_default_every_file_field_on_the_storage_is_a_target():
    labels = {t.label for t in file_targets()}
    assert "gallery.UserImage.image" in labels


def test_a_named_field_that_is_no_file_field_is_refused_with_its_model_s_file_fields():
    with pytest.raises(TargetError) as caught:
        parse_label("gallery.UserImage.caption")
    assert "gallery.UserImage.image" in caught.value.message
    with pytest.raises(TargetError):
        parse_label("nope.Nothing.file")
