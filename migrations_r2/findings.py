"""What can be wrong between a row and its object, in the operator's words,
each kind with the fix (docs/audit.md shows the commands).

One checker serves ``r2_audit`` and ``r2_backfill --verify``: the cheap
comparisons (presence, size, public URL) run as the merge pairs a row with
its listed object; the ones that need I/O (the local file's MD5, a HEAD for
``--metadata``) run in the thread pool.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import unquote, urlsplit

from r2_toolkit.core.keys import name_in_storage
from r2_toolkit.core.redact import scrub
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside

if TYPE_CHECKING:  # for the annotations only
    from r2_toolkit.core.target import ImageTarget
    from r2_toolkit.migrations_r2.bucket import Bucket
    from r2_toolkit.migrations_r2.listing import Listed
    from r2_toolkit.migrations_r2.references import FieldSource

    Row: TypeAlias = "FileRow | ImageRow"

KINDS = (
    "missing_object",
    "size_mismatch",
    "etag_mismatch",
    "orphan_object",
    "public_url_mismatch",
    "legacy_row",
    "content_type_mismatch",
    "cache_control_missing",
)
FIXES = {
    "missing_object": (
        "restore the object from a backup (r2_audit --restore KEY if it was quarantined), "
        "or put the legacy file back under MEDIA_ROOT (and clear a record row's "
        "storage_key) and run r2_backfill"
    ),
    "size_mismatch": (
        "the object was replaced behind the database's back: re-upload the right file "
        "under the key, or correct size_bytes"
    ),
    "etag_mismatch": "the object's bytes differ from the local file: re-upload the local file",
    "orphan_object": (
        "no row references it: check the list, then r2_audit --delete-orphans --yes moves it "
        "to the quarantine"
    ),
    "public_url_mismatch": "run r2_backfill --rewrite-urls",
    "legacy_row": "run r2_backfill",
    "content_type_mismatch": "copy the object onto itself with the row's Content-Type",
    "cache_control_missing": "copy the object onto itself with the configured Cache-Control",
}
GENERIC_TYPES = {"binary/octet-stream", "application/octet-stream"}


@dataclass(frozen=True)
class Finding:
    kind: str
    id: object  # the row's pk, None for an orphan
    storage_key: str | None
    detail: dict[str, Any] = field(default_factory=dict)  # "message" first, then the figures

    @property
    def message(self) -> str:
        return self.detail.get("message", "")

    def as_dict(self) -> dict[str, Any]:
        detail = {k: scrub(v) if isinstance(v, str) else v for k, v in self.detail.items()}
        return {
            "kind": self.kind,
            "id": None if self.id is None else str(self.id),
            "storage_key": self.storage_key,
            "detail": {**detail, "fix": detail.get("fix") or FIXES[self.kind]},
        }


@dataclass(frozen=True, slots=True)
class FileRow:
    """A row of a target file field: its name and the key the storage
    resolves it to (None when the storage refuses the name)."""

    field: str  # "app_label.Model.field"
    model: str  # the model's label, to pair it with the same record row
    pk: object
    name: str
    key: str | None
    pending: bool = False  # a record row whose storage_key is still empty

    @classmethod
    def maker(cls, source: FieldSource) -> Callable[[tuple[Any, ...], str | None], FileRow]:
        """The ``row(values, key)`` for ``source.refs`` (columns: name, pk,
        and for the record model's own file field its storage_key)."""
        label, model = source.label, source.model._meta.label
        return lambda values, key: cls(
            label, model, values[1], values[0], key, len(values) > 2 and values[2] is None
        )


@dataclass(frozen=True, slots=True)
class ImageRow:
    """A migrated row of the image model, as the checks need it."""

    pk: object
    name: str  # the image field: the legacy name under MEDIA_ROOT
    key: str
    public_url: str | None
    size_bytes: int | None
    mime_type: str | None
    model: str = ""  # the record model's label

    COLUMNS = ("storage_key", "pk", "image", "public_url", "size_bytes", "mime_type")

    @classmethod
    def columns(cls, target: ImageTarget) -> tuple[str, ...]:
        names = {"pk": "pk", "image": target.image_field}
        return tuple(names.get(c) or target.fields[c] for c in cls.COLUMNS)

    @classmethod
    def maker(cls, target: ImageTarget) -> Callable[[tuple[Any, ...]], ImageRow]:
        label = target.label
        return lambda values: cls.of(values, label)

    @classmethod
    def of(cls, values: tuple[Any, ...], model: str = "") -> ImageRow:
        key, pk, name, url, size, mime = values
        return cls(pk, str(name or ""), key, url, size, mime, model)


def file_md5(root: Path, name: str) -> str | None:
    """The MD5 hex of ``name`` under MEDIA_ROOT, or None when it is gone or unsafe."""
    try:
        with open(resolve_inside(root, name), "rb") as stream:
            return hashlib.file_digest(stream, "md5").hexdigest()
    except (UnsafePath, OSError):
        return None


def missing(row: Row) -> Finding:
    return Finding(
        "missing_object",
        row.pk,
        row.key,
        {"message": f"the object {row.key!r} is missing from the bucket"},
    )


def legacy(pk: object, name: str) -> Finding:
    return Finding(
        "legacy_row", pk, None, {"message": "not migrated yet (storage_key is empty)", "file": name}
    )


def legacy_file(
    row: FileRow,
    key: str | None,
    message: str = "not in the bucket yet; its legacy file waits under MEDIA_ROOT",
) -> Finding:
    return Finding(
        "legacy_row",
        row.pk,
        key,
        {
            "message": message,
            "field": row.field,
            "file": row.name,
        },
    )


def missing_file(row: FileRow) -> Finding:
    if row.key is None:
        message = f"the storage refuses the name {row.name!r} (it leaves the storage's location)"
    else:
        message = f"the object {row.key!r} of {row.field} is missing from the bucket"
    return Finding(
        "missing_object",
        row.pk,
        row.key,
        {"message": message, "field": row.field, "name": row.name},
    )


def leads_to(url: str, key: str) -> bool:
    """Whether ``url``'s path decodes to ``key`` (after any custom-domain
    path): the storage rewrites some keys' names (``\\`` becomes ``/``), and
    their URLs then serve another key, or nothing."""
    return unquote(urlsplit(url).path).endswith("/" + key)


def dead_url(row: ImageRow, url: str) -> Finding:
    served = unquote(urlsplit(url).path)
    return Finding(
        "public_url_mismatch",
        row.pk,
        row.key,
        {
            "message": f"no URL reaches the key {row.key!r}: the storage builds {url!r}, "
            f"which serves {served!r}",
            "public_url": row.public_url,
            "expected": url,
            "fix": "copy the object to a key the storage serves as it is (no backslash), "
            "point the row's storage_key at it and run r2_backfill --rewrite-urls",
        },
    )


def waits_locally(root: Path | None, name: str) -> bool:
    """Whether the legacy file of ``name`` is under MEDIA_ROOT for the backfill."""
    if root is None:
        return False
    try:
        return os.path.isfile(resolve_inside(root, name))
    except UnsafePath:
        return False


def orphan(obj: Listed) -> Finding:
    return Finding(
        "orphan_object",
        None,
        obj.key,
        {
            "message": "no row references this object",
            "size": obj.size,
            "etag": obj.etag,
            "last_modified": obj.last_modified.isoformat(),
        },
    )


class RowChecker:
    """The checks of one migrated row against its object."""

    def __init__(
        self,
        bucket: Bucket,
        root: Path | None = None,
        head: Callable[[str], Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.root = root  # MEDIA_ROOT, None when the local files are not at hand
        self.head = head  # key -> HeadObject response, for --metadata; None: off

    def at_once(self, row: Row, obj: Listed | None) -> list[Finding]:
        """The findings that need no I/O; ``obj`` is the Listed object or None."""
        if isinstance(row, FileRow):
            return self.file_row(row, obj)
        if obj is None:
            return [missing(row)]
        found: list[Finding] = []
        if row.size_bytes is not None and obj.size != row.size_bytes:
            found.append(
                Finding(
                    "size_mismatch",
                    row.pk,
                    row.key,
                    {
                        "message": f"size_bytes is {row.size_bytes} but the object has {obj.size}",
                        "row_size": row.size_bytes,
                        "object_size": obj.size,
                    },
                )
            )
        expected = self.bucket.public_url(name_in_storage(row.key, self.bucket.location))
        if not leads_to(expected, row.key):
            found.append(dead_url(row, expected))
        elif row.public_url != expected:
            found.append(
                Finding(
                    "public_url_mismatch",
                    row.pk,
                    row.key,
                    {
                        "message": f"public_url is {row.public_url!r}, "
                        f"the storage builds {expected!r}",
                        "public_url": row.public_url,
                        "expected": expected,
                    },
                )
            )
        return found

    def file_row(self, row: FileRow, obj: Listed | None) -> list[Finding]:
        """A file field's row: its object, or its legacy file waiting, or missing."""
        if row.key is not None and obj is not None:
            if row.pending:  # the backfill still fills the record row's columns
                return [legacy_file(row, row.key, "in the bucket; storage_key is still empty")]
            return []
        if row.key is not None and waits_locally(self.root, row.name):
            return [legacy_file(row, row.key)]
        return [missing_file(row)]

    def needs_io(self, row: Row, obj: Listed | None) -> bool:
        if isinstance(row, FileRow):
            return False
        return obj is not None and (self.head is not None or self.may_hash(row, obj))

    def may_hash(self, row: ImageRow, obj: Listed) -> bool:
        """Whether the local file may still be there to compare with a
        single-part object of the right size (a cheap look, no realpath)."""
        return (
            self.root is not None
            and obj.md5 is not None
            and (row.size_bytes is None or obj.size == row.size_bytes)
            and bool(row.name)
            and os.path.exists(os.path.join(self.root, row.name))
        )

    def with_io(self, row: ImageRow, obj: Listed) -> list[Finding]:
        """The findings that need the local file or a HEAD (in a worker thread)."""
        found: list[Finding] = []
        if self.may_hash(row, obj):
            local = file_md5(cast(Path, self.root), row.name)  # may_hash: root is set
            if local is not None and local != obj.md5:
                found.append(
                    Finding(
                        "etag_mismatch",
                        row.pk,
                        row.key,
                        {
                            "message": "the object's MD5 differs from the local file",
                            "etag": obj.etag,
                            "file_md5": local,
                            "file": row.name,
                        },
                    )
                )
        if self.head is not None:
            found.extend(self.metadata(row, self.head(row.key)))
        return found

    def metadata(self, row: ImageRow, head: Any) -> list[Finding]:
        if head is None:  # deleted since it was listed
            return [missing(row)]
        found: list[Finding] = []
        content_type = head.get("ContentType") or ""
        if content_type in GENERIC_TYPES or (row.mime_type and content_type != row.mime_type):
            found.append(
                Finding(
                    "content_type_mismatch",
                    row.pk,
                    row.key,
                    {
                        "message": f"Content-Type is {content_type!r}, the row says "
                        f"{row.mime_type!r}",
                        "content_type": content_type,
                        "mime_type": row.mime_type,
                    },
                )
            )
        name = name_in_storage(row.key, self.bucket.location)
        wanted = self.bucket.object_parameters(name).get("CacheControl")
        have = head.get("CacheControl")
        if wanted and have != wanted:
            found.append(
                Finding(
                    "cache_control_missing",
                    row.pk,
                    row.key,
                    {
                        "message": f"Cache-Control is {have!r}, the settings say {wanted!r}",
                        "cache_control": have,
                        "expected": wanted,
                    },
                )
            )
        return found
