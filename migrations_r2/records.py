"""The record mode of a run (``R2_TOOLKIT["IMAGE_MODEL"]`` set): legacy rows
(``storage_key IS NULL``) of the record model in primary-key order, each
row's R2 fields (those ``FIELD_MAP`` and the model keep) written only after
its object is verified in the bucket, in batched updates (see selection.py
and writer.py).

A row's key is its own file name (``object_key``: what ``url()`` serves).
With ``R2_TOOLKIT["KEY_TEMPLATE"]`` it is the template's (core/keys.py),
and the row's file name is set to it in the same UPDATE as its R2 fields,
so ``url()`` and the key always agree."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.files import object_key
from r2_toolkit.core.keys import TemplateError, join_location, needs_owner, template_name
from r2_toolkit.core.target import ImageTarget, TargetError
from r2_toolkit.migrations_r2 import selection, writer
from r2_toolkit.migrations_r2.bucket import Bucket
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside
from r2_toolkit.migrations_r2.probe import ProbedFile
from r2_toolkit.migrations_r2.selection import Row
from r2_toolkit.migrations_r2.transfer import BackfillError, Failure, Job, Result, Settled

if TYPE_CHECKING:  # engine imports this module; the transfer's protocols are types only
    from r2_toolkit.migrations_r2.engine import Options
    from r2_toolkit.migrations_r2.transfer import BucketSource, Recorder


def key_template() -> str | None:
    """``KEY_TEMPLATE`` (None: rows keep their names), its fields checked."""
    template = toolkit_settings.KEY_TEMPLATE
    if template is not None:
        try:
            needs_owner(template)
        except TemplateError as exc:
            raise BackfillError(f"{exc}; fix the template in your settings.") from None
    return template


def record_target(model: Any = None) -> ImageTarget:
    """The record model's ImageTarget for a backfill (only ``storage_key``
    required; the owner looked up only for a {username} template), or
    BackfillError with the fix."""
    template = key_template()
    try:
        return ImageTarget.resolve(
            model,
            required=("storage_key",),
            owner=template is not None and needs_owner(template),
        )
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None


class RecordMode:
    """Rows of the record model, for engine.Run."""

    alias: str | None = None  # the first S3 alias of STORAGES (``default`` first)

    def __init__(self, target: ImageTarget, root: Path, options: Options) -> None:
        self.target, self.root, self.options = target, root, options
        self.claims = (
            selection.AdvisoryClaims(target) if selection.AdvisoryClaims.available(target) else None
        )
        self.limits = writer.column_limits(target)
        self.int_limit = min((high for _, high in self.limits.values() if high), default=None)
        self.template = key_template()
        self.directories: dict[str, str] = {}  # the source's directories -> their real paths

    def label(self, row: Row) -> str:
        return self.target.label

    def rows(self, record: Recorder, transfers: BucketSource) -> Generator[Row, None, None]:
        """The rows to do; ``record`` takes the rows another run holds."""
        for rows, skipped in selection.pages(
            self.target,
            self.target.legacy(),
            self.options.batch_size,
            limit=self.options.limit,
            shard=self.options.shard,
            claims=self.claims,
        ):
            for pk in skipped:
                record(
                    Settled(
                        self.target.label, pk, "skipped", "another r2_backfill run holds this row"
                    )
                )
            yield from rows

    def total(self) -> int:
        total = self.target.legacy().count()
        return min(total, self.options.limit) if self.options.limit else total

    def plan(self, row: Row, transfers: BucketSource) -> Job | Failure:
        """A Job for ``row``, or the Failure it meets before any upload."""
        if self.target.username_path and row.username is None:
            return Failure(
                f"the row has no owner: {self.target.username_path} is empty, and "
                "KEY_TEMPLATE names {username}"
            )
        try:
            path = resolve_inside(self.root, row.name, self.directories)
        except UnsafePath as exc:
            return Failure(str(exc))
        bucket = transfers.open()
        name, key = self.key_of(row, bucket)
        if key is None:
            return Failure(f"the storage refuses the name {row.name!r}")
        url = bucket.public_url(name)
        new_name = name if self.template is not None and name != row.name else None
        values = {"storage_key": key, "public_url": url, "name": new_name or name}
        reason = writer.first_problem(values, self.limits, self.target)
        if reason:
            return Failure(reason, key)
        return Job(row, path, key, url, bucket.object_parameters(name), new_name=new_name)

    def key_of(self, row: Row, bucket: Bucket) -> tuple[str, str | None]:
        """(the storage name the object is served under, its key)."""
        if self.template is None:
            return row.name, object_key(self.target.file_field.storage, row.name)
        try:
            name = template_name(self.template, row.name, row.username, bucket.location)
        except TemplateError:  # no owner: worded by plan()
            return row.name, None
        return name, join_location(bucket.location, name)

    def write(self, pending: Mapping[Job, Result]) -> dict[Job, str]:
        """Write the verified rows ({Job: Result}); {Job: reason} the database refused."""
        values = {}
        for job, result in pending.items():
            probed = cast(ProbedFile, result.probed)  # set: the object is verified
            values[job.row.pk] = writer.Values(
                job.key,
                job.public_url,
                probed.mime_type,
                probed.width,
                probed.height,
                probed.size,
                name=job.new_name or (job.row.name if self.template else None),
            )
        refused = writer.write(self.target, values)
        return {job: refused[job.row.pk] for job in pending if job.row.pk in refused}

    def release(self, rows: Iterable[Row]) -> None:
        if self.claims:
            self.claims.release([row.pk for row in rows])

    def close(self) -> None:
        if self.claims:
            self.claims.release_all()
