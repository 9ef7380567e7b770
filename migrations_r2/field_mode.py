"""The field mode of a run (the default: no ``R2_TOOLKIT["IMAGE_MODEL"]``):
the site's file fields (core/files.py), every row's file uploaded under the
key its own name resolves to (``object_key``), so ``instance.field.url``
serves it afterwards; no row's name is rewritten.

What is to do is learned by listing the bucket (one ListObjectsV2 request
per 1,000 keys, under the targets' location), never a HEAD per row: a name
whose key is listed is done (``skipped``), unless its ImageField keeps a
``width_field``/``height_field`` that is still empty, when the local file is
probed for them without any upload. A name several rows share is uploaded
once and reported once (its first row's id). ``--shard K/N`` splits by a
stable hash of the key, so rows that share a name share a shard and shards
never overlap. The listed keys and the keys this run has taken are kept in
memory (a set of strings: some 100 bytes a key); the rows are streamed.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.db import DatabaseError
from django.db.models import Case, F, IntegerField, Q, Value, When

from r2_toolkit.core.files import FileTarget, file_targets
from r2_toolkit.core.keys import join_location
from r2_toolkit.core.target import TargetError
from r2_toolkit.migrations_r2 import selection, writer
from r2_toolkit.migrations_r2.listing import Lister
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside
from r2_toolkit.migrations_r2.probe import ProbedFile
from r2_toolkit.migrations_r2.transfer import (
    BackfillError,
    BucketSource,
    Failure,
    Job,
    Recorder,
    Result,
    Settled,
)

if TYPE_CHECKING:  # engine imports this module
    from r2_toolkit.migrations_r2.engine import Options


@dataclass(frozen=True)
class FieldRow:
    """One row's file: ``wants_dims`` when its ImageField's width/height
    fields are empty, ``upload`` unless its key is already listed."""

    target: FileTarget
    pk: object
    name: str
    key: str
    wants_dims: bool
    upload: bool


def field_targets(options: Options) -> list[FileTarget]:
    """The file fields of a run (``--field``, FILE_FIELDS, or every file field
    on ``--storage``); BackfillError with the fix."""
    try:
        targets = file_targets(options.storage, list(options.fields) or None)
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None
    if not targets:
        raise BackfillError(
            f"no installed model has a FileField or ImageField that stores its files in "
            f"STORAGES[{options.storage!r}]; pass --storage with the alias your file fields "
            "use, or --field APP.MODEL.FIELD."
        )
    return targets


def listed_fields(targets: Iterable[FileTarget]) -> str:
    """``--list-fields``: one line per target, its row count and where its keys go."""
    lines = []
    for target in targets:
        count = target.named().count()
        prefix = join_location(target.storage.location, "") or "(the bucket's root)"
        lines.append(
            f"{target.label}: {count} row(s) with a file, keys under {prefix} "
            f"({type(target.field).__name__})"
        )
    return "\n".join(lines)


def in_shard(key: str, shard: selection.Shard | None) -> bool:
    return shard is None or zlib.crc32(key.encode("utf-8")) % shard.count == shard.index - 1


def is_empty(value: object) -> bool:
    return value is None or value == 0


def listing_prefix(targets: Iterable[FileTarget]) -> str:
    """The key prefix every target's keys start with (their common location)."""
    prefixes = [join_location(t.storage.location, "") for t in targets]
    return os.path.commonprefix(prefixes)


def columns_of(target: FileTarget) -> tuple[str, ...]:
    """pk, the file name, then the width/height fields the ImageField keeps."""
    return ("pk", target.column, *[f for f in target.dimension_fields if f])


class FieldMode:
    """Rows of the site's file fields, for engine.Run."""

    int_limit: int | None = None  # width/height fields are the site's own: Django validates them

    def __init__(self, targets: Sequence[FileTarget], root: Path, options: Options) -> None:
        self.targets, self.root, self.options = targets, root, options
        self.alias = options.storage
        self.directories: dict[str, str] = {}  # the source's directories -> their real paths
        self.listed: set[str] | None = None  # the keys in the bucket, listed on the first row
        self.requests = 0  # ListObjectsV2 requests sent

    def label(self, row: FieldRow) -> str:
        return row.target.label

    def list_keys(self, transfers: BucketSource) -> set[str]:
        bucket = transfers.open()
        lister = Lister(bucket.client, bucket.name, listing_prefix(self.targets))
        keys = {item.key for page in lister.pages() for item in page}
        self.requests = lister.requests
        return keys

    def named_rows(self) -> Iterator[tuple[FileTarget, tuple[Any, ...]]]:
        """(target, values) of every row holding a name, each target in pk order."""
        for target in self.targets:
            pages = selection.keyset_pages(
                target,
                target.named(),
                columns_of(target),
                self.options.batch_size,
            )
            for rows, _ in pages:
                for values in rows:
                    yield target, values

    def rows(self, record: Recorder, transfers: BucketSource) -> Generator[FieldRow, None, None]:
        """The FieldRows to do; ``record`` takes those settled without a transfer."""
        taken: set[str] = set()
        dims_taken: set[tuple[str, str]] = set()
        remaining = self.options.limit
        for target, (pk, name, *dims) in self.named_rows():
            if remaining is not None and remaining <= 0:
                return
            name = str(name)
            key = target.key(name)
            if key is None:
                record(
                    Settled(target.label, pk, "failed", f"the storage refuses the name {name!r}")
                )
                continue
            if not in_shard(key, self.options.shard):
                continue
            if self.listed is None:
                self.listed = self.list_keys(transfers)
            wants_dims = any(is_empty(value) for value in dims)
            if (target.label, key) in dims_taken or (key in taken and not wants_dims):
                continue  # a name several rows share: done once
            taken.add(key)
            dims_taken.add((target.label, key))
            upload = key not in self.listed
            if not upload and not wants_dims:
                record(Settled(target.label, pk, "skipped", "already in the bucket", key))
                continue
            if remaining is not None:
                remaining -= 1
            yield FieldRow(target, pk, name, key, wants_dims, upload)

    def total(self) -> int:
        total = sum(target.named().count() for target in self.targets)
        return min(total, self.options.limit) if self.options.limit else total

    def plan(self, row: FieldRow, transfers: BucketSource) -> Job | Failure:
        """A Job for ``row``, or the Failure it meets before any transfer."""
        try:
            path = resolve_inside(self.root, row.name, self.directories)
        except UnsafePath as exc:
            return Failure(str(exc), row.key)
        if not row.upload:
            return Job(row, path, row.key, None, {}, upload=False)
        bucket = transfers.open()
        return Job(row, path, row.key, None, bucket.object_parameters(row.name))

    def write(self, pending: Mapping[Job, Result]) -> dict[Job, str]:
        """Fill the empty width/height fields of the verified files, one
        UPDATE per target; {Job: reason} where the database refused."""
        by_target: dict[FileTarget, list[tuple[Job, ProbedFile]]] = {}
        for job, result in pending.items():
            row = cast(FieldRow, job.row)  # this mode's jobs carry its rows
            probed = cast(ProbedFile, result.probed)  # set: the file is verified
            if row.wants_dims and probed.width is not None:
                by_target.setdefault(row.target, []).append((job, probed))
        refused: dict[Job, str] = {}
        for target, done in by_target.items():
            try:
                with writer.savepoint(target.db):
                    fill_dimensions(target, {job.row.name: probed for job, probed in done})
            except DatabaseError as exc:
                refused.update({job: writer.refusal(exc) for job, _ in done})
        return refused

    def release(self, rows: Iterable[FieldRow]) -> None:
        pass  # shards, not claims, keep parallel field-mode runs apart

    def close(self) -> None:
        pass


def fill_dimensions(target: FileTarget, probed_by_name: Mapping[str, ProbedFile]) -> None:
    """One UPDATE: the width/height fields of every row holding one of the
    names, where either is empty."""
    column = target.column
    empty = Q()
    updates: dict[str, Any] = {}
    for field, attribute in zip(target.dimension_fields, ("width", "height"), strict=True):
        if not field:
            continue
        empty |= Q(**{f"{field}__isnull": True}) | Q(**{field: 0})
        whens = [
            When(**{column: name}, then=Value(getattr(probed, attribute)))
            for name, probed in probed_by_name.items()
        ]
        updates[field] = Case(*whens, default=F(field), output_field=IntegerField())
    rows = target.manager.filter(**{f"{column}__in": list(probed_by_name)}).filter(empty)
    rows.update(**updates)
