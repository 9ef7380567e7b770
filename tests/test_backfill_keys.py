"""Properties of the KEY_TEMPLATE key scheme the record mode's engine uses
(core/keys.py ``template_name``, with the seed's layout and others) and of
path resolution, for any legacy name a table may hold."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2_toolkit.core.keys import (
    MAX_KEY_BYTES,
    SEED_TEMPLATE,
    TemplateError,
    join_location,
    template_name,
)
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside

segment = st.text(min_size=0, max_size=80)
legacy_names = st.one_of(
    st.text(max_size=600),
    st.lists(segment, min_size=1, max_size=6).map("/".join),
    st.builds(lambda rest: f"users/alice/images/{rest}", st.text(min_size=1, max_size=600)),
)
usernames = st.text(min_size=1, max_size=150)
locations = st.sampled_from(["", "media", "/media/", "a/b"])


def object_key(legacy_name, username, location="", template=SEED_TEMPLATE):
    """The key the record mode's engine uploads a row under (records.py)."""
    return join_location(location, template_name(template, legacy_name, username, location))


def assert_valid(key):
    encoded = key.encode("utf-8")  # raises on lone surrogates: the key must be valid UTF-8
    assert len(encoded) <= MAX_KEY_BYTES
    assert not key.startswith("/")
    segments = key.split("/")
    assert all(s not in ("", ".", "..") for s in segments), key
    assert not any(ord(c) < 32 or ord(c) == 127 for c in key)


@settings(max_examples=150, deadline=None)
@given(legacy_names, usernames, locations)
def test_keys_are_valid_and_deterministic(name, username, location):
    key = object_key(name, username, location)
    assert_valid(key)
    assert key == object_key(name, username, location)
    if location:
        assert key.startswith(location.strip("/") + "/")


@settings(max_examples=150, deadline=None)
@given(legacy_names, legacy_names, usernames)
def test_different_legacy_names_of_one_user_get_different_keys(first, second, username):
    if first != second:
        assert object_key(first, username) != object_key(second, username)


@given(
    st.text(alphabet="abcxyz._- ", min_size=1, max_size=40).filter(
        lambda s: s.strip(".") and "/" not in s
    )
)
def test_names_in_the_app_layout_keep_their_name(filename):
    name = f"users/alice/images/{filename}"
    assert template_name(SEED_TEMPLATE, name, "alice") == name
    assert object_key(name, "alice", "media") == f"media/{name}"


def test_other_names_go_under_the_user_with_a_hash_and_their_extension():
    key = object_key("uploads/2019/IMG 01.JPG", "bob")
    assert key.startswith("users/bob/images/IMG 01-") and key.endswith(".JPG")
    assert object_key("a/photo.jpg", "bob") != object_key("b/photo.jpg", "bob")


def test_a_very_long_unicode_name_is_shortened_to_1024_bytes_keeping_hash_and_extension():
    key = object_key("ü" * 500 + ".png", "bob")
    assert len(key.encode()) <= MAX_KEY_BYTES and key.endswith(".png")
    assert key != object_key("ü" * 499 + ".png", "bob")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["..", ".", "a", "b", "", "/", "\\", "c.jpg", "..."]), max_size=8).map(
        "".join
    )
)
def test_resolution_never_leaves_media_root(tmp_path_factory, name):
    root = tmp_path_factory.getbasetemp().resolve() / "root"
    root.mkdir(exist_ok=True)
    try:
        path = resolve_inside(root, name)
    except UnsafePath:
        return
    assert os.path.commonpath([root, path]) == str(root)


@pytest.mark.parametrize("name", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", "C:\\x.jpg", ""])
def test_escaping_names_are_refused(tmp_path, name):
    with pytest.raises(UnsafePath):
        resolve_inside(tmp_path.resolve(), name)


def test_undecodable_file_names_still_give_valid_keys():
    # A file name read from a non-UTF-8 disk arrives with surrogate escapes.
    assert_valid(object_key("users/alice/images/caf\udce9.jpg", "alice"))
    assert_valid(object_key("x.jpg", "../evil/.."))


def test_a_runs_directory_cache_resolves_exactly_as_realpath_does(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "cat.jpg").write_bytes(b"x")
    (root / "link").symlink_to(outside)
    (root / "a" / "escape.jpg").symlink_to(outside / "x.jpg")
    (root / "a" / "inside.jpg").symlink_to(root / "a" / "cat.jpg")
    directories = {}

    def outcome(name, cache):
        try:
            return resolve_inside(root, name, cache)
        except UnsafePath as exc:
            return str(exc)

    names = ["a/cat.jpg", "a/cat.jpg", "link/x.jpg", "a/escape.jpg", "a/inside.jpg", "a/gone.jpg"]
    for name in names + names:
        assert outcome(name, directories) == outcome(name, None), name
    assert outcome("link/x.jpg", directories) == "symlink leads outside MEDIA_ROOT"


def test_other_templates_fill_their_fields_and_keep_segments_clean():
    assert object_key("a\\b/c d.JPG", "eve", "", "{username}/{basename}") == "eve/c d.JPG"
    assert object_key("x/y.tar.gz", "eve", "m", "f/{stem}{ext}") == "m/f/y.tar.gz"
    assert object_key("a\\b.png", "e\\v", "", "{username}/{name}") == "e_v/a/b.png"


def test_a_template_naming_the_owner_refuses_a_row_without_one():
    with pytest.raises(TemplateError, match="no owner"):
        template_name(SEED_TEMPLATE, "x.jpg", None)
    assert template_name("files/{basename}", "x.jpg", None) == "files/x.jpg"


def test_an_unknown_template_field_is_named():
    with pytest.raises(TemplateError, match="{owner}"):
        template_name("{owner}/{basename}", "x.jpg", "eve")
