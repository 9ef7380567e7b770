"""``--verify`` and ``--rewrite-urls``: re-checking migrated rows.

``--verify`` pairs every migrated row with its object from the bucket's
listing (ListObjectsV2 pages, up to 1,000 objects a request, the engine
``r2_audit`` uses) and compares size, the ETag with the local file's MD5
when the file is still there, and ``public_url`` with what the storage
builds today. ``--rewrite-urls`` recomputes ``public_url`` for rows that
hold anything else (a private endpoint URL, a signed URL, an old domain).
"""

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar, cast

from r2_toolkit.core.errors import describe
from r2_toolkit.core.keys import name_in_storage
from r2_toolkit.core.target import ImageTarget
from r2_toolkit.migrations_r2 import selection, writer
from r2_toolkit.migrations_r2.bucket import Bucket, open_bucket
from r2_toolkit.migrations_r2.engine import BackfillError, Options, prepare
from r2_toolkit.migrations_r2.findings import FileRow, Finding, ImageRow, RowChecker
from r2_toolkit.migrations_r2.listing import OutOfOrder
from r2_toolkit.migrations_r2.reconcile import Reconciler
from r2_toolkit.migrations_r2.report import ReportFile, RewriteResult, VerifyResult

T = TypeVar("T")


def bucket_for(options: Options) -> Bucket:
    try:
        return open_bucket(options.workers)
    except ValueError as exc:
        raise BackfillError(str(exc)) from None


def verify_rows(
    options: Options, *, model: Any = None, stream: IO[str] | None = None
) -> VerifyResult:
    """Verify the selected migrated rows against the bucket; a VerifyResult."""
    target, _ = prepare(model, need_media_root=False)
    try:
        _, root = prepare(model)
    except BackfillError:
        root = None  # without MEDIA_ROOT only the bucket side is checked
    bucket = bucket_for(options)
    result, report = VerifyResult(), ReportFile(options.report)
    stream = stream or sys.stderr

    def on_row(row: FileRow | ImageRow, found: list[Finding]) -> None:
        row = cast(ImageRow, row)  # --verify streams the record model's rows only
        result.rows += 1
        result.mismatched += bool(found)
        reasons = [finding.message for finding in found]
        status = "failed" if found else "verified"
        report.write(row.pk, status, "; ".join(reasons), row.key, row.size_bytes)
        for reason in reasons:
            stream.write(f"row {row.pk}: {reason}\n")

    engine = Reconciler(
        bucket,
        workers=options.workers,
        chunk_size=options.batch_size,
        on_row=on_row,
    )
    engine.checker = RowChecker(bucket, root)
    queryset, keep = selection.shard_filter(target.migrated(), options.shard)
    taken = 0

    def narrowed(items: Iterable[T], row_of: Callable[[T], ImageRow]) -> Iterator[T]:
        """``items`` in the shard, at most ``--limit`` rows over both streams."""
        nonlocal taken
        for item in items:
            if keep is not None and not keep(row_of(item).pk):
                continue
            if options.limit is not None and taken >= options.limit:
                return
            taken += 1
            yield item

    try:
        engine.run(narrowed(engine.image_rows(queryset, target), lambda ref: ref.row))
        engine.run_outside(narrowed(engine.rows_outside(queryset, target), lambda row: row))
        engine.finish()
    except KeyboardInterrupt:
        result.interrupted = True
    except OutOfOrder as exc:
        raise BackfillError(str(exc)) from None
    except Exception as exc:
        raise BackfillError(f"cannot verify against the bucket: {describe(exc)}") from None
    finally:
        engine.close()
        report.close()
    result.requests = engine.requests
    return result.finish()


def migrated_pages(target: ImageTarget, options: Options) -> Iterator[list[tuple[Any, ...]]]:
    fields = target.fields
    columns = ("pk", fields["storage_key"], fields["public_url"])
    for rows, _ in selection.keyset_pages(
        target,
        target.migrated(),
        columns,
        options.batch_size,
        limit=options.limit,
        shard=options.shard,
    ):
        yield rows


def rewrite_urls(options: Options, *, model: Any = None) -> RewriteResult:
    """Rewrite public_url where it differs from the storage's URL; a RewriteResult."""
    target, _ = prepare(model, need_media_root=False)
    result, report = RewriteResult(dry_run=options.dry_run), ReportFile(options.report)
    limits = writer.column_limits(target)
    field = target.fields["public_url"]
    bucket: Bucket | None = None
    try:
        for page in migrated_pages(target, options):
            if bucket is None:
                bucket = bucket_for(options)
            changed = []
            for pk, key, url in page:
                expected = bucket.public_url(name_in_storage(key, bucket.location))
                if url == expected:
                    result.unchanged += 1
                    continue
                reason = writer.problem("public_url", expected, limits, target)
                if reason:
                    result.failed += 1
                    report.write(pk, "failed", reason, key)
                    continue
                obj = target.model(pk=pk)
                setattr(obj, field, expected)
                changed.append(obj)
                report.write(pk, "rewritten", f"public_url was {url!r}", key)
            if changed and not options.dry_run:
                target.manager.bulk_update(changed, [field])
            result.rewritten += len(changed)
    finally:
        report.close()
    return result
