"""Which rows a run works on: legacy rows (``storage_key IS NULL``) of the
configured image model, in primary-key order, one keyset page at a time
(``pk > last``, never OFFSET, never the table in memory), with the owner's
username joined into the same query so no row costs a query of its own.

Parallel runs never do the same row twice: ``--shard K/N`` splits the rows
disjointly on any database; on PostgreSQL every page is also *claimed*:
``SELECT … FOR UPDATE SKIP LOCKED`` in a short transaction takes the rows
no other run is taking right now, and a session advisory lock per row marks
them as ours until their result is written. Advisory locks vanish with the
connection, so the rows of a killed run are free again at once, and no
transaction is ever held across network I/O.
"""

import hashlib
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypedDict, Unpack

from django.db import connections, models, transaction
from django.db.models.functions import Mod

from r2_toolkit.core.arguments import shard_parts
from r2_toolkit.core.target import ImageTarget, ModelRows

# A page of value tuples (pk first) and the pks another run holds.
Page = tuple[list[tuple[Any, ...]], list[object]]


@dataclass(frozen=True)
class Row:
    pk: object
    name: str
    username: str | None


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as the operator writes it
    count: int

    @classmethod
    def parse(cls, text: str) -> Self:
        """``"K/N"`` → Shard; ValueError with the fix for anything else
        (core.arguments holds the rule, so argparse refuses the same values)."""
        index, count = shard_parts(text)
        return cls(index, count)


def shard_filter(queryset: Any, shard: Shard | None) -> tuple[Any, Callable[[object], bool] | None]:
    """(queryset narrowed to ``shard`` in SQL, or a Python predicate on pk)."""
    if shard is None or shard.count == 1:
        return queryset, None
    pk = queryset.model._meta.pk
    if isinstance(pk, (models.AutoField, models.BigAutoField, models.IntegerField)):
        queryset = queryset.alias(_r2_shard=Mod("pk", shard.count))
        return queryset.filter(_r2_shard=shard.index - 1), None
    if isinstance(pk, models.UUIDField):  # random UUIDs spread evenly over ranges
        span = 2**128 // shard.count
        low = uuid.UUID(int=span * (shard.index - 1))
        if shard.index < shard.count:
            queryset = queryset.filter(pk__lt=uuid.UUID(int=span * shard.index))
        return queryset.filter(pk__gte=low), None
    return queryset, lambda value: zlib.crc32(str(value).encode()) % shard.count == shard.index - 1


def lock_key(table: str, pk: object) -> int:
    """A signed 64-bit advisory-lock key for one row."""
    digest = hashlib.blake2b(f"r2_backfill:{table}:{pk}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryClaims:
    """Per-row session advisory locks on PostgreSQL (see the module doc)."""

    def __init__(self, target: ModelRows) -> None:
        self.table: str = target.model._meta.db_table
        self.connection = connections[target.db]
        self.held: dict[object, int] = {}  # pk -> its lock key

    @staticmethod
    def available(target: ModelRows) -> bool:
        return connections[target.db].vendor == "postgresql"

    def take(self, pks: Iterable[object]) -> set[object]:
        """The subset of ``pks`` now claimed by this run."""
        keys = {lock_key(self.table, pk): pk for pk in pks}
        if not keys:
            return set()
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT k FROM unnest(%s::bigint[]) AS k WHERE pg_try_advisory_lock(k)",
                [list(keys)],
            )
            taken = {keys[k] for (k,) in cursor.fetchall()}
        self.held.update({pk: key for key, pk in keys.items() if pk in taken})
        return taken

    def release(self, pks: Iterable[object]) -> None:
        keys = [self.held.pop(pk) for pk in pks if pk in self.held]
        if keys:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", [keys]
                )

    def release_all(self) -> None:
        self.release(list(self.held))


class PageOptions(TypedDict, total=False):
    """keyset_pages' keyword arguments, as pages() passes them on."""

    limit: int | None
    shard: Shard | None
    claims: AdvisoryClaims | None


def keyset_pages(
    target: ModelRows,
    queryset: Any,
    columns: Sequence[str],
    batch_size: int,
    *,
    limit: int | None = None,
    shard: Shard | None = None,
    claims: AdvisoryClaims | None = None,
) -> Iterator[Page]:
    """Pages of ``columns`` value tuples (pk first) from ``queryset``,
    keyset-paginated by pk (never OFFSET), narrowed to ``shard``, at most
    ``limit`` rows in all: (rows, skipped_pks).

    With ``claims`` each page is locked with SKIP LOCKED in a short
    transaction and only the rows claimed are yielded; the pks another run
    holds come as skipped."""
    queryset, keep = shard_filter(queryset, shard)
    remaining = limit
    last = None
    while remaining is None or remaining > 0:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        size = batch_size if remaining is None or keep is not None else min(batch_size, remaining)
        if claims is not None:
            with transaction.atomic(using=target.db):
                locked = page.select_for_update(skip_locked=True, of=("self",))
                fetched = list(locked.order_by("pk").values_list(*columns)[:size])
                taken = claims.take([r[0] for r in fetched if keep is None or keep(r[0])])
        else:
            fetched = list(page.order_by("pk").values_list(*columns)[:size])
            taken = None
        if not fetched:
            return
        last = fetched[-1][0]
        wanted = [r for r in fetched if keep is None or keep(r[0])]
        rows = [r for r in wanted if taken is None or r[0] in taken]
        skipped = [] if taken is None else [r[0] for r in wanted if r[0] not in taken]
        if remaining is not None:
            rows = rows[:remaining]
            remaining -= len(rows)
        yield rows, skipped
        if len(fetched) < size:
            return


def pages(
    target: ImageTarget, queryset: Any, batch_size: int, **options: Unpack[PageOptions]
) -> Iterator[tuple[list[Row], list[object]]]:
    """Lists of Row from ``queryset`` (see keyset_pages): (rows, skipped_pks)."""
    columns = ("pk", target.image_field, *filter(None, [target.username_path]))
    for rows, skipped in keyset_pages(target, queryset, columns, batch_size, **options):
        yield (
            [
                Row(pk, str(name or ""), None if not owner or owner[0] is None else str(owner[0]))
                for pk, name, *owner in rows
            ],
            skipped,
        )
