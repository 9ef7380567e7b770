"""``r2_audit``: the database and the bucket reconciled both ways.

    result = run_audit(AuditOptions(grace=86400))
    result.exit_code  # 0 nothing but legacy rows, 1 findings

Every row of every target file field (``core.files.file_targets``, the
backfill's targets, on the audited storage's location) and every migrated
row of the record model, when ``IMAGE_MODEL`` names one, is paired with its
object from the listing by the key the storage itself resolves
(``migrations_r2.reconcile``); every listed object that no row of any model
on the bucket references (``migrations_r2.references``), older than the
grace period and in scope, is an orphan. Read-only, except that
``delete_orphans`` with ``yes`` moves orphans to the quarantine
(``migrations_r2.quarantine``), re-checking the references before each small
batch. Ctrl-C stops with the partial result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.files import concrete_file_fields, file_targets, identity
from r2_toolkit.core.keys import join_location
from r2_toolkit.core.storage import chosen_s3_alias
from r2_toolkit.core.target import ImageTarget, TargetError
from r2_toolkit.migrations_r2 import findings, quarantine
from r2_toolkit.migrations_r2.bucket import Bucket, open_bucket
from r2_toolkit.migrations_r2.findings import KINDS, FileRow, Finding, ImageRow, RowChecker
from r2_toolkit.migrations_r2.listing import Listed, OutOfOrder, Ref, merged
from r2_toolkit.migrations_r2.pace import Pace
from r2_toolkit.migrations_r2.paths import media_root_of
from r2_toolkit.migrations_r2.quarantine import (
    OrphanMover,
    QuarantineResult,
    References,
    quarantine_key,
    today,
)
from r2_toolkit.migrations_r2.reconcile import Reconciler
from r2_toolkit.migrations_r2.references import (
    FieldSource,
    KeyColumn,
    UncleanMissed,
    location_prefix,
    scope_of,
)
from r2_toolkit.migrations_r2.report import RunResult

if TYPE_CHECKING:  # for the annotations only
    from r2_toolkit.migrations_r2.audit_report import AuditProgress

DOCUMENT_CAP = 1000  # findings in the JSON document; --report has every one


class AuditError(Exception):
    """The audit could not run (exit 2); ``str(exc)`` says why and the fix."""


@dataclass
class AuditOptions(Pace):
    alias: str | None = None
    grace: float = 86400.0
    metadata: bool = False
    delete_orphans: bool = False
    yes: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.grace < 0:
            raise AuditError(f"--grace must be 0 or more seconds, not {self.grace:g}.")
        if self.yes and not self.delete_orphans:
            raise AuditError(
                "--yes confirms --delete-orphans or --purge-quarantine; add one, or drop --yes."
            )


@dataclass
class AuditResult(RunResult):
    bucket: str = ""
    alias: str = ""
    location: str = ""
    rows: int = 0
    objects: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    within_grace: int = 0  # unreferenced, but younger than --grace
    would_move: bool = False  # --delete-orphans without --yes
    moving: bool = False
    quarantined: int = 0
    quarantine_failed: int = 0
    quarantine_day: str = ""
    kept: list[Finding] = field(default_factory=list)  # findings for the document, capped
    kept_legacy: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.counts[finding.kind] += 1
        keep = self.kept_legacy if finding.kind == "legacy_row" else self.kept
        if len(keep) < DOCUMENT_CAP:
            keep.append(finding)

    @property
    def findings(self) -> list[Finding]:
        """Up to DOCUMENT_CAP findings, the ones to act on before legacy rows."""
        return (self.kept + self.kept_legacy)[:DOCUMENT_CAP]

    @property
    def problems(self) -> int:
        """Findings that make the audit fail: all but legacy rows and the
        orphans moved to the quarantine."""
        return sum(n for kind, n in self.counts.items() if kind != "legacy_row") - self.quarantined

    @property
    def quarantine_prefix(self) -> str:
        return quarantine_key("", self.quarantine_day)

    @property
    def failures(self) -> int:
        return self.problems + self.quarantine_failed

    def summary(self) -> dict[str, int | str | bool]:
        summary: dict[str, int | str | bool] = {"rows": self.rows, "objects": self.objects}
        summary.update({kind: self.counts[kind] for kind in KINDS})
        summary["unreferenced_within_grace"] = self.within_grace
        summary["requests"] = self.requests
        if self.moving:
            summary["quarantined"] = self.quarantined
            summary["quarantine_failed"] = self.quarantine_failed
            summary["quarantine_prefix"] = self.quarantine_prefix
        if self.interrupted:
            summary["interrupted"] = True
        return summary

    def document(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "findings": [f.as_dict() for f in self.findings],
        }


class Audit:
    def __init__(
        self,
        options: AuditOptions,
        on_finding: Callable[[Finding], object] | None = None,
        progress: AuditProgress | None = None,
    ) -> None:
        self.options = options
        self.on_finding = on_finding
        self.progress = progress
        self.result = AuditResult()
        self.cutoff = datetime.now(UTC) - timedelta(seconds=options.grace)

    def emit(self, finding: Finding) -> None:
        self.result.add(finding)
        if self.on_finding is not None:
            self.on_finding(finding)

    def setup(self) -> None:
        try:
            alias = chosen_s3_alias(self.options.alias)
            self.bucket = open_bucket(self.options.workers, alias)
            self.scope = scope_of(self.bucket, alias)
        except Exception as exc:
            raise AuditError(f"cannot read the storage settings: {describe(exc)}") from None
        try:
            self.record = None if toolkit_settings.IMAGE_MODEL is None else ImageTarget.resolve()
            self.fields, self.audited = self.file_sources(alias)
        except TargetError as exc:
            raise AuditError(exc.sentence()) from None
        except Exception as exc:  # an uncastable setting
            raise AuditError(describe(exc)) from None
        # The record model's rows live in the storage the backfill writes to:
        # the one chosen when no alias is given.
        self.audits_records = self.record is not None and alias == chosen_s3_alias()
        result = self.result
        result.bucket, result.alias, result.location = self.bucket.name, alias, self.bucket.location
        self.prefix = join_location(self.bucket.location, "")
        try:
            root = media_root_of(settings.MEDIA_ROOT)
        except ValueError:
            root = None  # only the bucket side of each row is checked
        self.engine = Reconciler(
            self.bucket,
            workers=self.options.workers,
            chunk_size=self.options.batch_size,
            on_row=self.on_row,
        )
        head = self.engine.lister.head_object if self.options.metadata else None
        self.engine.checker = RowChecker(self.bucket, root, head)
        self.mover: OrphanMover | None = None
        if self.options.delete_orphans and self.options.yes:
            result.moving, result.quarantine_day = True, today()
            self.mover = OrphanMover(
                self.bucket, self.protectors(), self.emit, result, result.quarantine_day
            )
        result.would_move = self.options.delete_orphans and not self.options.yes

    def file_sources(self, alias: str) -> tuple[list[FieldSource], list[FieldSource]]:
        """(every file field on the bucket, the ones audited here): the
        target fields (FILE_FIELDS or all) whose names are this location's
        keys are audited; every file field protects its objects, targeted or not."""
        mine, ours = location_prefix(self.bucket.storage), identity(self.bucket.storage)
        own = {t.label for t in file_targets(alias) if location_prefix(t.storage) == mine}
        fields = [FieldSource.of(t) for t in concrete_file_fields() if identity(t.storage) == ours]
        return fields, [source for source in fields if source.label in own]

    def key_column(self) -> KeyColumn:
        record = cast(ImageTarget, self.record)  # called only with a record model
        return KeyColumn(record.model, record.fields["storage_key"])

    def protectors(self) -> list[References]:
        """Every reference column, re-read before a move."""
        columns: list[References] = [*self.fields]
        if self.record is not None:
            columns.append(self.key_column())
        return columns

    def on_row(self, row: FileRow | ImageRow, found: list[Finding]) -> None:
        for finding in found:
            self.emit(finding)

    def on_unreferenced(self, obj: Listed) -> None:
        if self.scope.excludes(obj.key):
            return
        if obj.last_modified > self.cutoff:
            self.result.within_grace += 1
            return
        finding = findings.orphan(obj)
        if self.mover is not None:
            self.mover.add(finding)
        else:
            self.emit(finding)

    def audited_rows(self, migrated: Any) -> Iterator[Ref]:
        """Refs carrying the rows to check, in key order."""
        streams = [self.engine.file_rows(s, self.pending_column(s)) for s in self.audited]
        if self.audits_records:
            streams.append(self.engine.image_rows(migrated, cast(ImageTarget, self.record)))
        return merged(*streams)

    def pending_column(self, source: FieldSource) -> str | None:
        """storage_key for the record model's own file field, else None."""
        record = self.record
        if record is not None and source.label == f"{record.label}.{record.image_field}":
            return record.fields["storage_key"]
        return None

    def references(self) -> list[Iterator[Ref]]:
        """Refs that only protect: the file fields not audited here (another
        location on the bucket) and storage_key when its rows are not audited."""
        chunk, prefix = self.options.batch_size, self.prefix
        audited = set(self.audited)
        refs = [s.refs(chunk, prefix) for s in self.fields if s not in audited]
        if self.record is not None and not self.audits_records:
            refs.append(self.key_column().refs(chunk, prefix))  # full keys: still a reference
        return refs

    def migrated(self) -> Any:
        """Every migrated row of the record model, hidden by its default
        manager or not (a soft-deleted row still points at its object)."""
        if self.record is None:
            return None
        rows = self.record.model._base_manager.using(self.record.db)
        return rows.filter(**{f"{self.record.fields['storage_key']}__isnull": False})

    def run(self) -> AuditResult:
        self.setup()
        engine = self.engine
        tick = self.tick if self.progress is not None else None
        migrated = self.migrated()
        try:
            engine.run(self.audited_rows(migrated), self.references(), self.on_unreferenced, tick)
            if self.audits_records:
                record = cast(ImageTarget, self.record)  # audits_records: it is set
                engine.run_outside(engine.rows_outside(migrated, record))
                self.legacy_records()
            engine.finish()
            if self.mover is not None:
                self.mover.flush()
        except KeyboardInterrupt:
            self.result.interrupted = True
            if self.mover is not None:
                self.mover.abandon()
        except (OutOfOrder, UncleanMissed) as exc:
            raise AuditError(str(exc)) from None
        except AuditError:
            raise
        except Exception as exc:
            raise AuditError(f"cannot audit bucket {self.bucket.name!r}: {describe(exc)}") from None
        finally:
            engine.close()
            self.result.objects = engine.objects
            self.result.rows = engine.rows
            self.result.requests += engine.requests
            self.result.finish()
            if self.progress is not None:
                self.tick(force=True)
                self.progress.close()
        return self.result

    def legacy_records(self) -> None:
        """Record rows not migrated yet, when their file field is not audited
        (an audited one reports each row by its own name)."""
        record = cast(ImageTarget, self.record)  # called only when it audits the records
        if f"{record.label}.{record.image_field}" in {s.label for s in self.audited}:
            return
        rows = record.model._base_manager.using(record.db)
        legacy = rows.filter(**{f"{record.fields['storage_key']}__isnull": True})
        for pk, name in (
            legacy.order_by("pk")
            .values_list("pk", record.image_field)
            .iterator(self.options.batch_size)
        ):
            self.engine.rows += 1
            self.emit(findings.legacy(pk, str(name or "")))

    def tick(self, force: bool = False) -> None:
        found = sum(self.result.counts.values())
        progress = cast("AuditProgress", self.progress)  # ticks only come with progress
        progress.update(self.engine.objects, self.engine.rows, found, force)


def run_audit(
    options: AuditOptions,
    *,
    on_finding: Callable[[Finding], object] | None = None,
    progress: AuditProgress | None = None,
) -> AuditResult:
    """The AuditResult; AuditError when the audit cannot run (exit 2)."""
    return Audit(options, on_finding, progress).run()


def run_restore(
    keys: Iterable[str] | None = None,
    *,
    alias: str | None = None,
    on_move: Callable[..., None] | None = None,
) -> QuarantineResult:
    """Quarantined objects moved back (``keys`` None: all); a QuarantineResult."""
    return in_quarantine(alias, lambda bucket: quarantine.restore(bucket, keys, on_move))


def run_purge(
    older_than_days: float,
    yes: bool,
    *,
    alias: str | None = None,
    on_move: Callable[..., None] | None = None,
) -> QuarantineResult:
    """Quarantined objects deleted for good (with ``yes``); a QuarantineResult."""
    return in_quarantine(
        alias, lambda bucket: quarantine.purge(bucket, older_than_days, yes, on_move)
    )


def in_quarantine(
    alias: str | None, work: Callable[[Bucket], QuarantineResult]
) -> QuarantineResult:
    try:
        bucket = open_bucket(toolkit_settings.BACKFILL_WORKERS, alias)
    except Exception as exc:
        raise AuditError(f"cannot read the storage settings: {describe(exc)}") from None
    try:
        return work(bucket)
    except Exception as exc:
        raise AuditError(
            f"cannot work on the quarantine of bucket {bucket.name!r}: {describe(exc)}"
        ) from None
