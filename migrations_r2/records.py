"""The record mode of a run (``R2_TOOLKIT["IMAGE_MODEL"]`` set): legacy rows
(``storage_key IS NULL``) of the record model in primary-key order, each
row's R2 fields written only after its object is verified in the bucket, in
batched updates (see selection.py and writer.py)."""

from dataclasses import dataclass

from r2_toolkit.core.keys import join_location, storage_name
from r2_toolkit.core.target import ImageTarget, TargetError
from r2_toolkit.migrations_r2 import selection, writer
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside
from r2_toolkit.migrations_r2.transfer import BackfillError, Job


@dataclass(frozen=True)
class Failure:
    """A row that fails before any upload."""

    reason: str
    key: str | None = None


def record_target(model=None):
    """The record model's ImageTarget, or BackfillError with the fix."""
    try:
        return ImageTarget.resolve(model)
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None


class RecordMode:
    """Rows of the record model, for engine.Run."""

    alias = None  # the first S3 alias of STORAGES (``default`` first)

    def __init__(self, target, root, options):
        self.target, self.root, self.options = target, root, options
        self.claims = (
            selection.AdvisoryClaims(target) if selection.AdvisoryClaims.available(target) else None
        )
        self.limits = writer.column_limits(target)
        self.int_limit = min((high for _, high in self.limits.values() if high), default=None)
        self.directories = {}  # the source's directories -> their real paths

    def label(self, row):
        return self.target.label

    def rows(self, record, transfers):
        """The rows to do; ``record(row_label, pk, status, reason)`` takes
        the rows another run holds."""
        for rows, skipped in selection.pages(
            self.target,
            self.target.legacy(),
            self.options.batch_size,
            limit=self.options.limit,
            shard=self.options.shard,
            claims=self.claims,
        ):
            for pk in skipped:
                record(self.target.label, pk, "skipped", "another r2_backfill run holds this row")
            yield from rows

    def total(self):
        total = self.target.legacy().count()
        return min(total, self.options.limit) if self.options.limit else total

    def plan(self, row, transfers):
        """A Job for ``row``, or the Failure it meets before any upload."""
        if row.username is None:
            return Failure(f"the row has no owner: {self.target.username_path} is empty")
        try:
            path = resolve_inside(self.root, row.name, self.directories)
        except UnsafePath as exc:
            return Failure(str(exc))
        bucket = transfers.open()
        name = storage_name(row.name, row.username, bucket.location)
        key = join_location(bucket.location, name)
        url = bucket.public_url(name)
        reason = writer.first_problem(
            {"storage_key": key, "public_url": url}, self.limits, self.target
        )
        if reason:
            return Failure(reason, key)
        return Job(row, path, key, url, bucket.object_parameters(name))

    def write(self, pending):
        """Write the verified rows ({Job: Result}); {Job: reason} the database refused."""
        values = {
            job.row.pk: writer.Values(
                job.key,
                job.public_url,
                result.probed.mime_type,
                result.probed.width,
                result.probed.height,
                result.probed.size,
            )
            for job, result in pending.items()
        }
        refused = writer.write(self.target, values)
        return {job: refused[job.row.pk] for job in pending if job.row.pk in refused}

    def release(self, rows):
        if self.claims:
            self.claims.release([row.pk for row in rows])

    def close(self):
        if self.claims:
            self.claims.release_all()
