"""The deterministic object key of a legacy file.

Names already in the app's layout (``users/<username>/images/<rest>``, as
``upload_to`` makes them) keep their name, so ``FileField.url`` and the key
agree. Any other name goes under ``users/<username>/images/`` with a short
hash of the *whole* legacy name added to the file name: two legacy files
called ``a/photo.jpg`` and ``b/photo.jpg`` must never share a key, and a
re-run must find the same key again (that is what makes adoption work).

A key is valid UTF-8, at most 1024 bytes (S3's limit), with no leading
slash, no empty, ``.`` or ``..`` segment and no control characters.
"""

import hashlib
import posixpath
import unicodedata

MAX_KEY_BYTES = 1024
HASH_LENGTH = 12  # hex digits: 48 bits, far beyond any media library
MAX_EXTENSION_BYTES = 16


def clean_segment(text: str) -> str:
    """``text`` usable as one key segment: no '/', no control or surrogate
    characters, never empty, '.' or '..'."""
    text = "".join("_" if c == "/" or unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
    return text if text.strip(".") else text.replace(".", "_") or "_"


def is_clean_name(name: str) -> bool:
    return all(segment == clean_segment(segment) for segment in name.split("/"))


def join_location(location: str | None, name: str) -> str:
    """``location/name``; with an empty ``name``, the location's key prefix
    (``"media/"``, or ``""`` for the whole bucket)."""
    location = (location or "").strip("/")
    return f"{location}/{name}" if location else name


def name_in_storage(key: str, location: str | None) -> str:
    """The storage name (what ``storage.url()`` takes) of an object key: the
    key without the storage's location."""
    prefix = join_location(location, "")
    return key[len(prefix) :] if prefix and key.startswith(prefix) else key


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8."""
    return text.encode("utf-8")[: max(max_bytes, 0)].decode("utf-8", "ignore")


def legacy_hash(legacy_name: str) -> str:
    data = legacy_name.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def user_prefix(username: object) -> str:
    return f"users/{clean_segment(str(username))}/images/"


def storage_name(legacy_name: str, username: object, location: str | None = "") -> str:
    """The object's name relative to the storage's location (what
    ``storage.url()`` takes)."""
    prefix = user_prefix(username)
    budget = MAX_KEY_BYTES - len(join_location(location, "").encode("utf-8")) - 1
    if (
        legacy_name.startswith(prefix)
        and len(legacy_name) > len(prefix)
        and is_clean_name(legacy_name)
        and len(legacy_name.encode("utf-8", "surrogatepass")) <= budget
    ):
        return legacy_name
    basename = posixpath.basename(legacy_name.replace("\\", "/")) or "file"
    stem, extension = posixpath.splitext(clean_segment(basename))
    if len(extension.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, extension = stem + extension, ""
    suffix = f"-{legacy_hash(legacy_name)}{extension}"
    room = budget - len(prefix.encode("utf-8")) - len(suffix.encode("utf-8"))
    if room < 0:  # an absurd username: keep the key valid, still unique
        prefix = user_prefix(legacy_hash(str(username)))
        room = budget - len(prefix.encode("utf-8")) - len(suffix.encode("utf-8"))
    return prefix + truncate_utf8(stem, room) + suffix


def object_key(legacy_name: str, username: object, location: str | None = "") -> str:
    """The full object key in the bucket (with the storage's location)."""
    return join_location(location, storage_name(legacy_name, username, location))
