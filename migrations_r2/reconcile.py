"""The engine ``r2_audit`` and ``r2_backfill --verify`` share: migrated rows
of the image model (and, for the audit, every target file field's rows)
streamed in key order, merged against the bucket's listing, each pair
checked by a :class:`~migrations_r2.findings.RowChecker`.

    engine = Reconciler(bucket, workers=16, chunk_size=1000, on_row=report)
    engine.checker = RowChecker(bucket, root)
    engine.run(engine.image_rows(queryset, target))
    engine.finish()

``on_row(row, findings)`` is called once per row with all of its findings
(possibly none), from the main thread. Rows whose key lies outside the
listed prefix cannot be in the listing: ``run_outside`` HEADs them.
"""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeAlias, cast

from r2_toolkit.core.keys import join_location
from r2_toolkit.core.target import ImageTarget
from r2_toolkit.migrations_r2.bucket import Bucket
from r2_toolkit.migrations_r2.findings import FileRow, Finding, ImageRow, RowChecker
from r2_toolkit.migrations_r2.listing import Listed, Lister, Ref, merge_join, merged
from r2_toolkit.migrations_r2.references import FieldSource, key_refs

Row: TypeAlias = FileRow | ImageRow


class Pool:
    """Work that needs I/O in threads, at most ``2 × workers`` in flight;
    each result handed to its ``then`` on the main thread."""

    def __init__(self, workers: int) -> None:
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="r2-audit")
        self.limit = 2 * workers
        self.in_flight: dict[Future[Any], Callable[[Any], object]] = {}  # future -> its then

    def submit(self, then: Callable[[Any], object], call: Callable[..., Any], *args: Any) -> None:
        while len(self.in_flight) >= self.limit:
            self.collect()
        self.in_flight[self.executor.submit(call, *args)] = then

    def collect(self, everything: bool = False) -> None:
        while self.in_flight:
            done, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                self.in_flight.pop(future)(future.result())
            if not everything:
                return

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def rows_of(group: list[Ref]) -> Iterator[Row]:
    """The rows of one key's group to check: a record row's own file field
    names the same object as its storage_key, so the record row (whose
    checks include presence) stands for both."""
    records = {(row.model, row.pk) for ref in group if isinstance(row := ref.row, ImageRow)}
    for ref in group:
        row = ref.row
        if row is None or (isinstance(row, FileRow) and (row.model, row.pk) in records):
            continue
        yield row


class Reconciler:
    def __init__(
        self,
        bucket: Bucket,
        *,
        workers: int,
        chunk_size: int,
        on_row: Callable[[Row, list[Finding]], object],
    ) -> None:
        self.bucket = bucket
        self.prefix = join_location(bucket.location, "")
        self.lister = Lister(bucket.client, bucket.name, self.prefix)
        self.checker: RowChecker | None = None  # set by the caller
        self.pool = Pool(workers)
        self.chunk_size = chunk_size
        self.on_row = on_row
        self.rows = 0

    @property
    def objects(self) -> int:
        return self.lister.listed

    @property
    def requests(self) -> int:
        return self.lister.requests

    def image_rows(self, queryset: Any, target: ImageTarget) -> Iterator[Ref]:
        """Refs carrying an ImageRow for each row of ``queryset`` whose key
        lies under the listed prefix, in byte order."""
        return key_refs(
            queryset,
            target.fields["storage_key"],
            "",
            self.chunk_size,
            self.prefix,
            columns=ImageRow.columns(target),
            row=ImageRow.maker(target),
        )

    def file_rows(self, source: FieldSource, pending: str | None = None) -> Iterator[Ref]:
        """Refs carrying a FileRow for each row of a file field (a
        ``references.FieldSource``) whose key lies under the listed prefix;
        ``pending``: the column that is NULL while the row waits for the
        backfill (the record model's storage_key)."""
        columns = (source.column, "pk", *([pending] if pending else []))
        return source.refs(self.chunk_size, self.prefix, columns=columns, row=FileRow.maker(source))

    def rows_outside(self, queryset: Any, target: ImageTarget) -> Iterator[ImageRow]:
        """ImageRows of ``queryset`` whose key lies outside the listed prefix."""
        if not self.prefix:
            return iter(())
        field = target.fields["storage_key"]
        outside = queryset.exclude(**{f"{field}__startswith": self.prefix})
        values = outside.values_list(*ImageRow.columns(target)).iterator(self.chunk_size)
        make = ImageRow.maker(target)
        return (make(v) for v in values)

    def run(
        self,
        rows: Iterable[Ref],
        references: Iterable[Iterable[Ref]] = (),
        on_unreferenced: Callable[[Listed], object] | None = None,
        tick: Callable[[], object] | None = None,
    ) -> None:
        """Merge the listing with ``rows`` (Refs carrying ImageRows) and
        ``references`` (Refs that only protect objects). ``on_unreferenced(obj)``
        gets each listed object no row references; without it the listing
        stops after the last row."""
        joined = merge_join(
            self.lister, merged(rows, *references), keep_objects=on_unreferenced is not None
        )
        for _, obj, group in joined:
            if obj is not None and not group:
                # Only listed with on_unreferenced (keep_objects): never None here.
                cast(Callable[[Listed], object], on_unreferenced)(obj)
            for row in rows_of(group):
                self.check(row, obj)
            if tick is not None:
                tick()

    def run_outside(self, rows: Iterable[ImageRow]) -> None:
        for row in rows:

            def then(found: list[Finding], row: ImageRow = row) -> None:
                self.done(row, found)

            self.pool.submit(then, self.check_alone, row)

    def check_alone(self, row: ImageRow) -> list[Finding]:
        """All of one row's findings, its object HEADed (in a worker thread)."""
        checker = cast(RowChecker, self.checker)  # set by the caller before any run
        obj = self.lister.head(row.key)
        found = checker.at_once(row, obj)
        # needs_io: only for an object that is there (with_io's Listed).
        return (
            found + checker.with_io(row, cast(Listed, obj)) if checker.needs_io(row, obj) else found
        )

    def check(self, row: Row, obj: Listed | None) -> None:
        checker = cast(RowChecker, self.checker)  # set by the caller before any run
        found = checker.at_once(row, obj)
        if checker.needs_io(row, obj):

            def then(more: list[Finding], row: Row = row, found: list[Finding] = found) -> None:
                self.done(row, found + more)

            self.pool.submit(
                then,
                checker.with_io,
                row,
                obj,
            )
        else:
            self.done(row, found)

    def done(self, row: Row, found: list[Finding]) -> None:
        self.rows += 1
        self.on_row(row, found)

    def finish(self) -> None:
        self.pool.collect(everything=True)

    def close(self) -> None:
        self.pool.close()
