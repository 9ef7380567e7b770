"""``--verify`` and ``--rewrite-urls``: re-checking migrated rows.

``--verify`` HEADs every migrated row's object (in the thread pool) and
compares it with the row and, when the legacy file is still on disk, with
the file's MD5; ``public_url`` must be what the storage builds today.
``--rewrite-urls`` recomputes ``public_url`` for rows that hold anything
else (a private endpoint URL, a signed URL, an old domain).
"""

import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

from migrations_r2 import selection, writer
from migrations_r2.engine import BackfillError, connect, prepare
from migrations_r2.paths import UnsafePath, resolve_inside
from migrations_r2.report import ReportFile, Summary
from migrations_r2.uploader import Uploader
from toolkit.core.errors import describe


def name_in_storage(key, location):
    """The storage name (what url() takes) of an object key."""
    prefix = f"{location.strip('/')}/" if location else ""
    return key[len(prefix) :] if prefix and key.startswith(prefix) else key


def file_md5(root, legacy_name):
    """The legacy file's MD5 hex, or None when it is gone or unsafe."""
    try:
        path = resolve_inside(root, legacy_name)
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "md5").hexdigest()
    except (UnsafePath, OSError):
        return None


def check_row(row, uploader, root, expected_url):
    """Mismatches between a migrated row, its object and its file: a list of sentences."""
    pk, legacy_name, key, url, size = row
    try:
        head = uploader.head(key)
    except Exception as exc:
        return [f"cannot HEAD the object: {describe(exc)}"]
    if head is None:
        return [f"the object {key!r} is missing from the bucket"]
    problems = []
    if size is not None and head.get("ContentLength") != size:
        problems.append(f"size_bytes is {size} but the object has {head.get('ContentLength')}")
    local = file_md5(root, legacy_name) if root is not None else None
    if local is not None and uploader.object_md5(key, head) != local:
        problems.append("the object's MD5 differs from the local file")
    if url != expected_url:
        problems.append(f"public_url is {url!r}, the storage builds {expected_url!r}")
    return problems


def migrated_pages(target, options, extra=()):
    fields = target.fields
    columns = (
        "pk",
        target.image_field,
        fields["storage_key"],
        fields["public_url"],
        fields["size_bytes"],
        *extra,
    )
    for rows, _ in selection.keyset_pages(
        target,
        target.migrated(),
        columns,
        options.batch_size,
        limit=options.limit,
        shard=options.shard,
    ):
        yield rows


def verify_rows(options, *, model=None, stream=None):
    target, _ = prepare(model, need_media_root=False)
    try:
        _, root = prepare(model)
    except BackfillError:
        root = None  # without MEDIA_ROOT only the bucket side is checked
    summary, report = Summary(), ReportFile(options.report)
    bucket = uploader = None
    try:
        with ThreadPoolExecutor(options.workers) as pool:
            for page in migrated_pages(target, options):
                if bucket is None:
                    bucket, _ = connect(options.workers, probe_writes=False)
                    uploader = Uploader(bucket.client, bucket.name, {})
                urls = [bucket.public_url(name_in_storage(r[2], bucket.location)) for r in page]
                results = pool.map(check_row, page, repeat(uploader), repeat(root), urls)
                for row, problems in zip(page, results, strict=True):
                    status = "failed" if problems else "verified"
                    summary.failed += bool(problems)
                    summary.skipped += not problems  # counted as "done, nothing to do"
                    report.write(row[0], status, "; ".join(problems), row[2], row[4])
                    for problem in problems:
                        (stream or sys.stderr).write(f"row {row[0]}: {problem}\n")
    finally:
        report.close()
    return summary.finish()


def rewrite_urls(options, *, model=None):
    """Rewrite public_url where it differs from the storage's URL; the Summary
    (``uploaded`` counts the rows rewritten)."""
    target, _ = prepare(model, need_media_root=False)
    summary, report = Summary(), ReportFile(options.report)
    limits = writer.column_limits(target)
    field = target.fields["public_url"]
    bucket = None
    try:
        for page in migrated_pages(target, options):
            if bucket is None:
                bucket, _ = connect(options.workers, probe_writes=False)
            changed = []
            for pk, _, key, url, _ in page:
                expected = bucket.public_url(name_in_storage(key, bucket.location))
                if url == expected:
                    continue
                reason = writer.problem("public_url", expected, limits, target)
                if reason:
                    summary.failed += 1
                    report.write(pk, "failed", reason, key)
                    continue
                obj = target.model(pk=pk)
                setattr(obj, field, expected)
                changed.append(obj)
                report.write(pk, "uploaded", "public_url rewritten", key)
            if changed and not options.dry_run:
                target.manager.bulk_update(changed, [field])
            summary.uploaded += len(changed)
    finally:
        report.close()
    return summary.finish()
