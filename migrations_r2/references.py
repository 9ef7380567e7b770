"""What references an object in the audited bucket, and which keys are the
audited storage's own.

An object is referenced when any row of any installed model names it: every
target file field (``core.files.file_targets``: every FileField/ImageField
writing to the audited bucket, whatever its location), whose key is what
its storage itself resolves for the stored name (``files.object_key``), and
the record model's ``storage_key`` column (a full key). References are
streamed in byte order (``listing.byte_ordered``) so they merge against the
listing.

The database can order names, not keys. For a clean name the key is the
location plus the name, so name order is key order; the few names the
storage rewrites (``a//b``, ``./a``, ``a\\b``, ``/a``, ``x/../a``) are picked
out in SQL (:func:`maybe_unclean`, a superset), keyed in Python and merged
in as a second, sorted stream. A name the storage refuses (it escapes the
location) reads no object, but it protects every key it might plausibly
have meant (:func:`plausible_keys`): never delete what a row might name.

The scope: keys under the audited storage's location, except the toolkit's
probe prefix (r2_check's round trip and the backfill's If-None-Match probe
write there), the quarantine prefix (orphans moved by ``--delete-orphans``)
and the locations of other STORAGES aliases nested inside it (their objects
are theirs to audit, with ``--storage ALIAS``).
"""

import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from django.db import router
from django.db.models import Q

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.files import FileTarget, identity, object_key, open_storage
from r2_toolkit.core.keys import join_location
from r2_toolkit.core.storage import s3_aliases
from r2_toolkit.migrations_r2.bucket import Bucket
from r2_toolkit.migrations_r2.listing import Ref, byte_ordered, merged, stream_rows

IN_CHUNK = 500  # values per IN (...) when re-checking keys before a move
# ``row(values, key)``: what a Ref carries for one row's column values and key.
RowMaker = Callable[[tuple[Any, ...], str | None], object]


# What a name the storage might key other than location + name contains:
# clean_name and safe_join only change names with a backslash, a doubled
# slash, a leading slash or a ``.``/``..`` segment (which contains ``/.`` or
# starts with ``.``). Anything else is its own key under the location.
UNCLEAN_PARTS = ("\\", "//", "/.")
UNCLEAN_STARTS = ("/", ".")


class UncleanMissed(Exception):
    """A name the storage rewrites was not picked out by maybe_unclean."""


def maybe_unclean(column: str) -> Q:
    """A Q matching every name that may not be its own key (a superset)."""
    q = Q(**{f"{column}__startswith": UNCLEAN_STARTS[0]})
    for start in UNCLEAN_STARTS[1:]:
        q |= Q(**{f"{column}__startswith": start})
    for part in UNCLEAN_PARTS:
        q |= Q(**{f"{column}__contains": part})
    return q


def looks_unclean(name: str) -> bool:
    """maybe_unclean in Python: the check of every row the SQL let through
    as clean (a database whose LIKE reads those characters otherwise)."""
    return name.startswith(UNCLEAN_STARTS) or any(part in name for part in UNCLEAN_PARTS)


def plausible_keys(prefix: str, name: str) -> list[str]:
    """The keys a name the storage refuses might have meant: the literal one
    and the cleaned one under the location, and the cleaned one at the root."""
    cleaned = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    while cleaned.startswith("../"):
        cleaned = cleaned[3:]
    return sorted({prefix + name, prefix + cleaned, cleaned} - {prefix, ""})


@dataclass(frozen=True)
class FieldSource(FileTarget):
    """A file field read as the bucket's references: each name in its column
    refers to ``self.key(name)``, the storage's own key of it."""

    @classmethod
    def of(cls, target: FileTarget) -> Self:
        return cls(target.model, target.field)

    @property
    def prefix(self) -> str:
        return location_prefix(self.storage)

    def refs(
        self,
        chunk_size: int,
        within: str = "",
        columns: Sequence[str] | None = None,
        row: RowMaker | None = None,
    ) -> Iterator[Ref]:
        """Ref per row naming a key under ``within``, in byte order; with
        ``columns`` (the column first) each Ref carries ``row(values, key)``;
        a refused name carries ``row(values, None)`` on its literal key."""
        return merged(
            self.clean_refs(chunk_size, within, columns, row),
            self.unclean_refs(within, columns, row),
        )

    def clean_refs(
        self, chunk_size: int, within: str, columns: Sequence[str] | None, row: RowMaker | None
    ) -> Iterator[Ref]:
        prefix, column = self.prefix, self.column
        queryset = narrowed(self.named().exclude(maybe_unclean(column)), column, prefix, within)
        if queryset is None:
            return
        for values in stream_rows(byte_ordered(queryset, column), columns or (column,), chunk_size):
            name = values[0]
            if looks_unclean(name):  # the SQL filter let it through: cannot happen
                raise UncleanMissed(
                    f"{self.label}: the database matched the name {name!r} as clean; "
                    "the audit cannot key this column's names safely"
                )
            key = prefix + name
            yield Ref(key, None if row is None else row(values, key))

    def unclean_refs(
        self, within: str, columns: Sequence[str] | None, row: RowMaker | None
    ) -> list[Ref]:
        """The rewritten and refused names' Refs, sorted in memory (they are few)."""
        found: list[Ref] = []
        queryset = self.named().filter(maybe_unclean(self.column))
        for values in queryset.values_list(*(columns or (self.column,))).iterator():
            name = values[0]
            key = self.key(name)
            if key is not None:
                found.append(Ref(key, None if row is None else row(values, key)))
                continue
            keys = plausible_keys(self.prefix, name)
            if row is not None:  # audited: the row itself reports the refusal
                found.append(Ref(keys[0], row(values, None)))
            found.extend(Ref(k) for k in keys)
        return sorted((ref for ref in found if ref.key.startswith(within)), key=keyed)

    def referenced(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` some row of this column names, now."""
        prefix, column = self.prefix, self.column
        wanted = set(keys)
        names = {key[len(prefix) :]: key for key in wanted if key.startswith(prefix)}
        found: set[str] = set()
        pending = list(names)
        for start in range(0, len(pending), IN_CHUNK):
            chunk = pending[start : start + IN_CHUNK]
            rows = self.named().filter(**{f"{column}__in": chunk})
            found.update(names[name] for name in rows.values_list(column, flat=True))
        # The rewritten and refused names, re-read: a scan of the few there are.
        unclean = self.named().filter(maybe_unclean(column)).values_list(column, flat=True)
        for name in unclean.iterator():
            key = self.key(name)
            found.update(wanted & ({key} if key is not None else set(plausible_keys(prefix, name))))
        return found


def location_prefix(storage: Any) -> str:
    """The key prefix of every name in ``storage``: the storage's own key of
    a plain name, less the name (its location as the storage cleans it).
    A location the storage cannot join anything to (``a//b``) refuses every
    name: the literal prefix then, so its names still protect what they say."""
    key = object_key(storage, "x")
    return key[:-1] if key is not None else join_location(storage.location or "", "")


def keyed(ref: Ref) -> str:
    return ref.key


@dataclass(frozen=True)
class KeyColumn:
    """A column holding full keys (the record model's ``storage_key``)."""

    model: Any  # a model class (Django ships no annotations)
    field: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field}"

    def queryset(self) -> Any:
        # The base manager: a default manager that hides rows (soft deletes)
        # must not make their objects look unreferenced.
        return self.model._base_manager.using(router.db_for_read(self.model))

    def refs(self, chunk_size: int, within: str = "") -> Iterator[Ref]:
        return key_refs(self.queryset(), self.field, "", chunk_size, within)

    def referenced(self, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        keys = list(keys)
        for start in range(0, len(keys), IN_CHUNK):
            rows = self.queryset().filter(**{f"{self.field}__in": keys[start : start + IN_CHUNK]})
            found.update(rows.values_list(self.field, flat=True))
        return found


def narrowed(queryset: Any, field: str, prefix: str, within: str) -> Any:
    """``queryset`` narrowed in SQL to values whose key (``prefix`` + value)
    lies under ``within``; None when none can."""
    if within.startswith(prefix):
        rest = within[len(prefix) :]
        return queryset.filter(**{f"{field}__startswith": rest}) if rest else queryset
    return queryset if prefix.startswith(within) else None


def key_refs(
    queryset: Any,
    field: str,
    prefix: str,
    chunk_size: int,
    within: str = "",
    columns: Sequence[str] | None = None,
    row: Callable[[tuple[Any, ...]], object] | None = None,
) -> Iterator[Ref]:
    """Refs (``prefix`` + the column's value, a column of full keys) from
    ``queryset`` for keys under ``within``, in byte order. With ``columns``
    (``field`` first) and ``row``, each Ref carries ``row(values)``."""
    queryset = narrowed(queryset, field, prefix, within)
    if queryset is None:
        return iter(())  # this column's keys all lie outside the scope
    rows = stream_rows(byte_ordered(queryset, field), columns or (field,), chunk_size)
    if row is None:
        return (Ref(prefix + values[0]) for values in rows)
    return (Ref(prefix + values[0], row(values)) for values in rows)


def field_sources(targets: Iterable[FileTarget]) -> list[FieldSource]:
    return [FieldSource.of(target) for target in targets]


@dataclass(frozen=True)
class Scope:
    prefix: str  # the audited storage's location as a key prefix ("" for the bucket)
    excluded: tuple[str, ...]  # prefixes inside it that are not its objects

    def excludes(self, key: str) -> bool:
        return key.startswith(self.excluded)


def scope_of(bucket: Bucket, alias: str) -> Scope:
    """The Scope of ``bucket`` (the storage ``alias``)."""
    prefix = join_location(bucket.location, "")
    excluded: set[str] = set()
    for own in (toolkit_settings.PROBE_PREFIX, toolkit_settings.QUARANTINE_PREFIX):
        excluded |= {own, prefix + own}
    ours = identity(bucket.storage)
    for other in s3_aliases():
        if other == alias:
            continue
        storage = open_storage(other)
        location = join_location(storage.location, "")
        if identity(storage) == ours and location != prefix and location.startswith(prefix):
            excluded.add(location)
    return Scope(prefix, tuple(sorted(excluded)))
