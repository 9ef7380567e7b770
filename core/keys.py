"""The deterministic object key of a legacy file under a ``KEY_TEMPLATE``
(the record mode's opt-in layout; without one a row's key is its own name,
core/files.py ``object_key``).

A template such as ``"users/{username}/images/{stem}-{hash}{ext}"`` names
the fields {username} {name} {basename} {stem} {ext} {hash}. Names already
in the template's directory (``users/<username>/images/<rest>``, as
``upload_to`` makes them) keep their name. Any other name is rendered; with
{hash} (a short hash of the *whole* legacy name) two legacy files called
``a/photo.jpg`` and ``b/photo.jpg`` never share a key, and a re-run finds
the same key again (that is what makes adoption work). The seed's layout is
:data:`SEED_TEMPLATE`, which this repository's own settings name.

A key is valid UTF-8, at most 1024 bytes (S3's limit), with no leading
slash, no empty, ``.`` or ``..`` segment and no control characters.
"""

import hashlib
import posixpath
import unicodedata

MAX_KEY_BYTES = 1024
HASH_LENGTH = 12  # hex digits: 48 bits, far beyond any media library
MAX_EXTENSION_BYTES = 16


SEED_TEMPLATE = "users/{username}/images/{stem}-{hash}{ext}"
TEMPLATE_FIELDS = ("username", "name", "basename", "stem", "ext", "hash")
UNCLEAN = "/\\"  # '\\' is a separator to django-storages' url(): never inside a segment


class TemplateError(ValueError):
    """A row the template cannot be filled for; ``str(exc)`` is the reason."""


def clean_segment(text: str) -> str:
    """``text`` usable as one key segment: no '/' or '\\', no control or
    surrogate characters, never empty, '.' or '..'."""
    text = "".join(
        "_" if c in UNCLEAN or unicodedata.category(c) in ("Cc", "Cs") else c for c in text
    )
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


def template_fields(template: str) -> list[str]:
    """The field names ``template`` uses; TemplateError for an unknown one."""
    import string

    used = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    unknown = sorted(set(used) - set(TEMPLATE_FIELDS))
    if unknown:
        raise TemplateError(
            f'R2_TOOLKIT["KEY_TEMPLATE"] names {{{unknown[0]}}}, which is not one of '
            + " ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
        )
    return used


def needs_owner(template: str) -> bool:
    return "username" in template_fields(template)


def split_template(template: str) -> tuple[str, str]:
    """(the directory part before any per-file field, the rest)."""
    cut = min(
        (template.find("{" + f + "}") for f in TEMPLATE_FIELDS[1:] if "{" + f + "}" in template),
        default=len(template),
    )
    cut = template.rfind("/", 0, cut) + 1
    return template[:cut], template[cut:]


def fits(name: str, budget: int) -> bool:
    return len(name.encode("utf-8", "surrogatepass")) <= budget


def template_name(
    template: str, legacy_name: str, username: object, location: str | None = ""
) -> str:
    """The object's name relative to the storage's location (what
    ``storage.url()`` takes) under ``template``; TemplateError when the row
    cannot fill it (a {username} template and no owner)."""
    if needs_owner(template) and username is None:
        raise TemplateError("the row has no owner, and KEY_TEMPLATE names {username}")
    directory, rest = split_template(template)
    owner = clean_segment(str(username or ""))
    prefix = directory.format(username=owner)
    budget = MAX_KEY_BYTES - len(join_location(location, "").encode("utf-8")) - 1
    if (
        prefix
        and legacy_name.startswith(prefix)
        and len(legacy_name) > len(prefix)
        and is_clean_name(legacy_name)
        and fits(legacy_name, budget)
    ):
        return legacy_name
    basename = posixpath.basename(legacy_name.replace("\\", "/")) or "file"
    stem, extension = posixpath.splitext(clean_segment(basename))
    if len(extension.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, extension = stem + extension, ""
    clean_name = "/".join(clean_segment(s) for s in legacy_name.replace("\\", "/").split("/"))
    values = {
        "username": owner,
        "name": clean_name,
        "basename": stem + extension,
        "ext": extension,
        "hash": legacy_hash(legacy_name),
    }
    without_stem = prefix + rest.format(**values, stem="")
    room = budget - len(without_stem.encode("utf-8"))
    if room < 0 and "{username}" in directory:  # an absurd username: still valid, unique
        return template_name(template, legacy_name, legacy_hash(owner), location)
    return prefix + rest.format(**values, stem=truncate_utf8(stem, max(room, 0)))
