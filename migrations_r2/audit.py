"""``r2_audit``: the database and the bucket reconciled both ways.

    result = run_audit(AuditOptions(grace=86400))
    result.exit_code  # 0 nothing but legacy rows, 1 findings

Every migrated row of the image model is paired with its object from the
listing (``migrations_r2.reconcile``); every listed object that no row of any
model on the storage references (``migrations_r2.references``), older than
the grace period and in scope, is an orphan. Read-only, except that
``delete_orphans`` with ``yes`` deletes orphans in DeleteObjects batches of
1,000 keys, each key re-checked against every reference column just before
its batch. Ctrl-C stops with the partial result.
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings

from r2_toolkit.migrations_r2 import findings
from r2_toolkit.migrations_r2.bucket import open_bucket
from r2_toolkit.migrations_r2.findings import KINDS, RowChecker
from r2_toolkit.migrations_r2.listing import RETRIES, OutOfOrder
from r2_toolkit.migrations_r2.paths import media_root_of
from r2_toolkit.migrations_r2.reconcile import Reconciler
from r2_toolkit.migrations_r2.references import Source, file_field_sources, scope_of
from r2_toolkit.migrations_r2.report import Timed
from r2_toolkit.migrations_r2.uploader import with_retries
from r2_toolkit.toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.core.errors import describe
from r2_toolkit.toolkit.core.storage import s3_aliases
from r2_toolkit.toolkit.core.target import ImageTarget, TargetError

DELETE_BATCH = 1000  # DeleteObjects' maximum
DOCUMENT_CAP = 1000  # findings in the JSON document; --report has every one


class AuditError(Exception):
    """The audit could not run (exit 2); ``str(exc)`` says why and the fix."""


@dataclass
class AuditOptions:
    alias: str | None = None
    grace: float = 86400.0
    metadata: bool = False
    delete_orphans: bool = False
    yes: bool = False
    batch_size: int | None = None
    workers: int | None = None

    def __post_init__(self):
        self.batch_size = self.batch_size or toolkit_settings.BACKFILL_BATCH_SIZE
        self.workers = self.workers or toolkit_settings.BACKFILL_WORKERS
        if self.grace < 0:
            raise AuditError(f"--grace must be 0 or more seconds, not {self.grace:g}.")
        if self.yes and not self.delete_orphans:
            raise AuditError(
                "--yes confirms --delete-orphans; add --delete-orphans, or drop --yes."
            )


@dataclass
class AuditResult(Timed):
    bucket: str = ""
    alias: str = ""
    location: str = ""
    rows: int = 0
    objects: int = 0
    requests: int = 0
    counts: Counter = field(default_factory=Counter)
    within_grace: int = 0  # unreferenced, but younger than --grace
    would_delete: bool = False  # --delete-orphans without --yes
    deleting: bool = False
    deleted: int = 0
    delete_failed: int = 0
    interrupted: bool = False
    kept: list = field(default_factory=list)  # findings for the document, capped
    kept_legacy: list = field(default_factory=list)

    def add(self, finding):
        self.counts[finding.kind] += 1
        keep = self.kept_legacy if finding.kind == "legacy_row" else self.kept
        if len(keep) < DOCUMENT_CAP:
            keep.append(finding)

    @property
    def findings(self):
        """Up to DOCUMENT_CAP findings, the ones to act on before legacy rows."""
        return (self.kept + self.kept_legacy)[:DOCUMENT_CAP]

    @property
    def problems(self):
        """Findings that make the audit fail: all but legacy rows and the
        orphans deleted."""
        return sum(n for kind, n in self.counts.items() if kind != "legacy_row") - self.deleted

    @property
    def ok(self):
        return not (self.problems or self.delete_failed or self.interrupted)

    @property
    def exit_code(self):
        return 0 if self.ok else 1

    def summary(self):
        summary = {"rows": self.rows, "objects": self.objects}
        summary.update({kind: self.counts[kind] for kind in KINDS})
        summary["unreferenced_within_grace"] = self.within_grace
        summary["requests"] = self.requests
        if self.deleting:
            summary["deleted"] = self.deleted
            summary["delete_failed"] = self.delete_failed
        if self.interrupted:
            summary["interrupted"] = True
        return summary

    def document(self):
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "findings": [f.as_dict() for f in self.findings],
        }


class OrphanDeleter:
    """Orphans in batches of DELETE_BATCH: each batch's keys re-checked
    against every reference column, then one DeleteObjects call. A batch is
    complete or not sent; a re-run lists what is left and deletes it."""

    def __init__(self, bucket, sources, emit, result, policy=RETRIES):
        self.bucket, self.sources, self.emit, self.result = bucket, sources, emit, result
        self.policy = policy
        self.batch = []

    def add(self, finding):
        self.batch.append(finding)
        if len(self.batch) >= DELETE_BATCH:
            self.flush()

    def flush(self):
        batch, self.batch = self.batch, []
        if not batch:
            return
        keys = [f.storage_key for f in batch]
        referenced = set()
        for source in self.sources:
            referenced |= source.referenced(keys)
        doomed = [key for key in keys if key not in referenced]
        errors = self.delete(doomed) if doomed else {}
        for finding in batch:
            key = finding.storage_key
            if key in referenced:
                continue  # a row took it since it was listed: not an orphan any more
            if key in errors:
                self.result.delete_failed += 1
                detail = {"deleted": False, "delete_error": errors[key]}
            else:
                self.result.deleted += 1
                detail = {"deleted": True}
            self.emit(replace(finding, detail={**finding.detail, **detail}))

    def abandon(self):
        """Interrupted: the orphans waiting for a batch are reported, not deleted."""
        batch, self.batch = self.batch, []
        for finding in batch:
            self.emit(replace(finding, detail={**finding.detail, "deleted": False}))

    def delete(self, keys):
        """{key: why it was not deleted} for one DeleteObjects call."""
        self.result.requests += 1
        response = with_retries(
            lambda: self.bucket.client.delete_objects(
                Bucket=self.bucket.name,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            ),
            self.policy,
        )
        return {
            error["Key"]: error.get("Message") or error.get("Code") or "refused"
            for error in response.get("Errors", ())
        }


class Audit:
    def __init__(self, options, on_finding=None, progress=None):
        self.options = options
        self.on_finding = on_finding
        self.progress = progress
        self.result = AuditResult()
        self.cutoff = datetime.now(UTC) - timedelta(seconds=options.grace)

    def emit(self, finding):
        self.result.add(finding)
        if self.on_finding is not None:
            self.on_finding(finding)

    def setup(self):
        try:
            self.target = ImageTarget.resolve()
        except TargetError as exc:
            raise AuditError(exc.sentence()) from None
        aliases = s3_aliases()
        alias = self.options.alias or (aliases[0] if aliases else None)
        try:
            self.bucket = open_bucket(self.options.workers, alias)
            self.scope = scope_of(self.bucket, alias)
            sources = file_field_sources(self.bucket)
        except Exception as exc:
            raise AuditError(f"cannot read the storage settings: {describe(exc)}") from None
        # The image model's rows live in the storage the backfill writes to.
        self.audits_rows = alias == aliases[0]
        self.sources = sources
        result = self.result
        result.bucket, result.alias, result.location = self.bucket.name, alias, self.bucket.location
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
        self.deleter = None
        if self.options.delete_orphans and self.options.yes:
            self.result.deleting = True
            self.deleter = OrphanDeleter(self.bucket, self.all_sources(), self.emit, self.result)
        self.result.would_delete = self.options.delete_orphans and not self.options.yes

    def all_sources(self):
        """Every reference column, the image model's storage_key included."""
        return [*self.sources, Source(self.target.model, self.target.fields["storage_key"], "")]

    def on_row(self, row, found):
        for finding in found:
            self.emit(finding)

    def on_unreferenced(self, obj):
        if self.scope.excludes(obj.key):
            return
        if obj.last_modified > self.cutoff:
            self.result.within_grace += 1
            return
        finding = findings.orphan(obj)
        if self.deleter is not None:
            self.deleter.add(finding)
        else:
            self.emit(finding)

    def references(self):
        chunk, prefix = self.options.batch_size, self.engine.prefix
        refs = [source.refs(chunk, prefix) for source in self.sources]
        if not self.audits_rows:  # still a reference: storage_key is a full key
            refs.append(self.all_sources()[-1].refs(chunk, prefix))
        return refs

    def rows(self):
        """Every row of the image model, hidden by its default manager or not
        (a soft-deleted row still points at its object)."""
        return self.target.model._base_manager.using(self.target.db)

    def run(self):
        self.setup()
        engine, target = self.engine, self.target
        tick = self.tick if self.progress is not None else None
        key = target.fields["storage_key"]
        migrated = self.rows().filter(**{f"{key}__isnull": False})
        try:
            rows = engine.image_rows(migrated, target) if self.audits_rows else iter(())
            engine.run(rows, self.references(), self.on_unreferenced, tick)
            if self.audits_rows:
                engine.run_outside(engine.rows_outside(migrated, target))
                self.legacy_rows()
            engine.finish()
            if self.deleter is not None:
                self.deleter.flush()
        except KeyboardInterrupt:
            self.result.interrupted = True
            if self.deleter is not None:
                self.deleter.abandon()
        except OutOfOrder as exc:
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

    def legacy_rows(self):
        target = self.target
        legacy = self.rows().filter(**{f"{target.fields['storage_key']}__isnull": True})
        rows = legacy.order_by("pk").values_list("pk", target.image_field)
        for pk, name in rows.iterator(self.options.batch_size):
            self.engine.rows += 1
            self.emit(findings.legacy(pk, str(name or "")))

    def tick(self, force=False):
        found = sum(self.result.counts.values())
        self.progress.update(self.engine.objects, self.engine.rows, found, force)


def run_audit(options, *, on_finding=None, progress=None):
    """The AuditResult; AuditError when the audit cannot run (exit 2)."""
    return Audit(options, on_finding, progress).run()
