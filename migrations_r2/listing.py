"""Listing, not asking: the bucket's objects from ListObjectsV2 pages and the
database's rows, both streamed in one order and merged like a sort-merge
join, so memory stays flat for any number of either.

The order is UTF-8 byte order, the order S3 lists keys in. For valid
Unicode it is also code point order, which is how Python compares ``str``,
so keys are compared as they come. The database must be told: PostgreSQL
sorts by the column's collation (``en_US.UTF-8`` puts ``B`` before ``a``,
ignores spaces and punctuation at first) unless asked ``COLLATE "C"``;
SQLite's default BINARY collation is byte order; MySQL needs ``utf8mb4_bin``.
Both streams are checked as they arrive: a key out of order stops the run
(:class:`OutOfOrder`) rather than pairing the wrong rows and objects.

NFC and NFD spellings of one name (``é`` as U+00E9, or ``e`` + U+0301) are
different keys to S3 and different strings to the database: each pairs with
its own spelling, never with the other.
"""

import heapq
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar, cast

from django.db import connections
from django.db.models import F
from django.db.models.functions import Collate

from r2_toolkit.migrations_r2.retries import RETRIES, RetryPolicy, head_or_none, with_retries
from r2_toolkit.migrations_r2.uploader import MD5_ETAG

PAGE_SIZE = 1000  # ListObjectsV2's maximum
T = TypeVar("T")
BYTE_ORDER_COLLATIONS = {"postgresql": "C", "sqlite": "BINARY", "mysql": "utf8mb4_bin"}


class OutOfOrder(Exception):
    """A stream was not in byte order; ``str(exc)`` says which and the fix."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One object as ListObjectsV2 (or HeadObject) describes it."""

    key: str
    size: int
    etag: str  # without the quotes
    last_modified: datetime

    @property
    def md5(self) -> str | None:
        """The content's MD5 hex for a single-part object, else None
        (a multipart ETag is a digest of digests, ``<hex>-<parts>``)."""
        return self.etag if MD5_ETAG.match(self.etag) else None


class Ref(NamedTuple):
    """A key some row references; ``row`` carries what the checks need, for
    the rows being audited (None for references that only protect)."""

    key: str
    row: Any = None  # findings.ImageRow or FileRow, or what a caller's row() makes


def in_order(
    items: Iterable[T], what: str, key: Callable[[T], Any] = attrgetter("key")
) -> Iterator[T]:
    """``items`` unchanged, or OutOfOrder at the first one that sorts before
    the one before it."""
    previous = None
    for item in items:
        current = key(item)
        if previous is not None and current < previous:
            raise OutOfOrder(
                f"{what} came out of byte order ({previous!r} before {current!r}); "
                f"{ORDER_FIXES.get(what, 'the merge cannot pair them')}"
            )
        previous = current
        yield item


ORDER_FIXES = {
    "the bucket's listing": (
        "this S3-compatible server does not list keys in UTF-8 byte order as S3 and R2 do, "
        "so it cannot be audited by listing"
    ),
    "the database's rows": (
        "the database does not sort this column in byte order; the audit knows the binary "
        "collations of PostgreSQL, SQLite and MySQL"
    ),
}


class Lister:
    """ListObjectsV2 pages under ``prefix``, every page retried on transient
    errors; ``requests`` counts the calls sent (HEADs from threads too) and
    ``listed`` the objects seen."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        page_size: int = PAGE_SIZE,
        policy: RetryPolicy = RETRIES,
    ) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.page_size, self.policy = page_size, policy
        self.requests = 0
        self.listed = 0
        self.lock = threading.Lock()

    def count(self) -> None:
        with self.lock:
            self.requests += 1

    def pages(self) -> Iterator[list[Listed]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": self.page_size}
        if self.prefix:
            params["Prefix"] = self.prefix
        while True:
            self.count()
            page = with_retries(lambda: self.client.list_objects_v2(**params), self.policy)
            contents = page.get("Contents", ())
            self.listed += len(contents)
            yield [
                Listed(item["Key"], item["Size"], item["ETag"].strip('"'), item["LastModified"])
                for item in contents
            ]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token

    def __iter__(self) -> Iterator[Listed]:
        pages = prefetched(self.pages())
        return in_order((item for page in pages for item in page), "the bucket's listing")

    def head_object(self, key: str) -> Any:
        """HeadObject's response, or None when the key does not exist."""
        self.count()
        return head_or_none(self.client, self.bucket, key, self.policy)

    def head(self, key: str) -> Listed | None:
        """One object as a Listed, or None when it does not exist."""
        head = self.head_object(key)
        if head is None:
            return None
        return Listed(key, head["ContentLength"], head["ETag"].strip('"'), head["LastModified"])


def prefetched(pages: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``pages`` fetched ahead in a thread, up to ``depth`` pages: the next
    page's round trip overlaps the merge of this one. Errors arrive in
    order; closing the generator stops the thread."""
    ready: queue.Queue[tuple[object, Exception | None]] = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        ready.put((page, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: tuple[object, Exception | None] = (end, None)
        except Exception as exc:
            item = (end, exc)
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    threading.Thread(target=fetch, name="r2-list", daemon=True).start()
    try:
        while True:
            page, error = ready.get()
            if error is not None:
                raise error
            if page is end:
                return
            yield cast(T, page)  # not the end marker: one of ``pages``
    finally:
        stop.set()


def byte_ordered(queryset: Any, field: str) -> Any:
    """``queryset`` ordered by ``field`` in byte order (then pk), rows where
    it is NULL or empty left out."""
    vendor = connections[queryset.db].vendor
    collation = BYTE_ORDER_COLLATIONS.get(vendor)
    order = Collate(F(field), collation) if collation else F(field)
    return (
        queryset.exclude(**{f"{field}__isnull": True})
        .exclude(**{field: ""})
        .order_by(order.asc(), "pk")
    )


def stream_rows(
    queryset: Any,
    columns: Sequence[str],
    chunk_size: int,
    key: Callable[[tuple[Any, ...]], Any] = lambda values: values[0],
) -> Iterator[tuple[Any, ...]]:
    """``columns`` value tuples of a byte-ordered queryset, fetched
    ``chunk_size`` at a time from one query (a server-side cursor on
    PostgreSQL), checked to arrive in byte order of ``key``."""
    rows = queryset.values_list(*columns).iterator(chunk_size=chunk_size)
    return in_order(rows, "the database's rows", key=key)


def merged(*sources: Iterable[Ref]) -> Iterator[Ref]:
    """Several byte-ordered streams of Ref as one."""
    return heapq.merge(*sources, key=attrgetter("key"))


def merge_join(
    objects: Iterable[Listed], references: Iterable[Ref], *, keep_objects: bool = True
) -> Iterator[tuple[str, Listed | None, list[Ref]]]:
    """``(key, Listed or None, [Ref, ...])`` for every key on either side, in
    key order. Both inputs are sorted by key; references may repeat a key.
    ``keep_objects=False`` stops when the references end (the objects after
    the last reference are not wanted, so they are not listed either)."""
    groups = groupby(references, attrgetter("key"))
    group = next(groups, None)
    if group is None and not keep_objects:
        return  # nothing to pair: not one listing request
    objects = iter(objects)
    obj = next(objects, None)
    while obj is not None or group is not None:
        if group is None:
            if not keep_objects:
                return
            obj = cast(Listed, obj)  # the loop's condition: no group left, so an object
            yield obj.key, obj, []
            obj = next(objects, None)
        elif obj is None or group[0] < obj.key:
            yield group[0], None, list(group[1])
            group = next(groups, None)
        elif obj.key < group[0]:
            if keep_objects:
                yield obj.key, obj, []
            obj = next(objects, None)
        else:
            yield obj.key, obj, list(group[1])
            obj = next(objects, None)
            group = next(groups, None)
