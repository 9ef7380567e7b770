"""The backfill run: selection on the main thread, file probing and uploads
in a thread pool or on the native transport (transfer.py), verified results
written back in batches by the run's mode.

    summary = run_backfill(Options(workers=16))

Two modes, one driver: by default the site's file fields (field_mode.py:
every row's file uploaded under its own name, no row rewritten); with
``R2_TOOLKIT["IMAGE_MODEL"]`` set, the record model's legacy rows and their
R2 fields (records.py). Ctrl-C (SIGINT) stops taking new rows, finishes and
writes the rows in flight, and returns the summary.
"""

import queue
import sys
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.target import TargetError, record_model
from r2_toolkit.migrations_r2 import selection
from r2_toolkit.migrations_r2.paths import media_root_of
from r2_toolkit.migrations_r2.records import RecordMode, record_target
from r2_toolkit.migrations_r2.report import Progress, ReportFile, Summary
from r2_toolkit.migrations_r2.transfer import (
    BackfillError,
    Failure,
    Transfers,
    drain,
    stop_on_sigint,
)

__all__ = ["BackfillError", "Options", "prepare", "run_backfill"]
REFILL_LINGER = 0.01  # seconds the main thread waits to gather finished uploads


@dataclass
class Options:
    dry_run: bool = False
    batch_size: int | None = None
    workers: int | None = None
    limit: int | None = None
    shard: selection.Shard | None = None
    verify: bool = False
    rewrite_urls: bool = False
    report: str | None = None
    interactive: bool | None = None  # progress bar; None: when stderr is a terminal
    storage: str = "default"  # the STORAGES alias (field mode)
    fields: tuple = ()  # "app_label.Model.field" labels (field mode); () = the settings'
    source: str | None = None  # the legacy files' directory; None = MEDIA_ROOT

    def __post_init__(self):
        self.batch_size = self.batch_size or toolkit_settings.BACKFILL_BATCH_SIZE
        self.workers = self.workers or toolkit_settings.BACKFILL_WORKERS
        for name in ("batch_size", "workers", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BackfillError(
                    f"--{name.replace('_', '-')} must be a positive number, not {value}."
                )


def source_root(source=None):
    """The resolved directory legacy files are read from; BackfillError with the fix."""
    try:
        if source is None:
            return media_root_of(settings.MEDIA_ROOT)
        return media_root_of(source, "--source")
    except ValueError as exc:
        raise BackfillError(str(exc)) from None


def prepare(model=None, need_media_root=True, source=None):
    """(ImageTarget, the source directory) of the record mode, or BackfillError with the fix."""
    target = record_target(model)
    return target, (source_root(source) if need_media_root else None)


def is_record_mode(model=None):
    """Whether a run works on the record model (IMAGE_MODEL set, or a
    migration's historical model) rather than the site's file fields."""
    if model is not None:
        return True
    try:
        return record_model() is not None
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None


def open_mode(options, model=None):
    """The mode a run works in, every setting it needs validated."""
    if is_record_mode(model):
        target, root = prepare(model, source=options.source)
        return RecordMode(target, root, options)
    from r2_toolkit.migrations_r2.field_mode import FieldMode, field_targets

    return FieldMode(field_targets(options), source_root(options.source), options)


class Run:
    """One backfill run's state, driven from the main thread."""

    def __init__(self, mode, options, stream):
        self.mode, self.options, self.stream = mode, options, stream
        self.summary = Summary()
        self.report = ReportFile(options.report)
        self.transfers = Transfers(options.workers, stream, mode.alias, mode.int_limit)
        self.progress = None
        self.pending = {}  # Job -> Result, verified and waiting for the batch write

    def record(self, label, pk, status, reason="", key=None, size=None):
        self.summary.count(status, size)
        self.report.write(pk, status, reason, key, size, model=label)

    def plan(self, row):
        """A Job for ``row``, or None when it is settled before any transfer."""
        planned = self.mode.plan(row, self.transfers)
        if isinstance(planned, Failure):
            self.fail(row, planned.reason, planned.key)
            return None
        if self.progress is None:
            self.progress = Progress(self.stream, self.count_total(), self.options.interactive)
        return planned

    def count_total(self):
        interactive = self.options.interactive
        if not (self.stream.isatty() if interactive is None else interactive):
            return None  # only the bar shows a total and an ETA
        return self.mode.total()

    def fail(self, row, reason, key=None, size=None):
        self.record(self.mode.label(row), row.pk, "failed", reason, key, size)
        self.mode.release([row])

    def collect(self, job, result):
        if result.error is not None and not self.transfers.answered:
            # An upload failed before the bucket accepted any: every other
            # would too. Stop without trying the rest (exit 2, no row touched;
            # an object that one of the first uploads did store is adopted by
            # the next run).
            raise BackfillError(f"cannot write to the bucket: {describe(result.error)}")
        if result.probed is None:
            self.fail(job.row, result.reason, job.key, result.size)
        else:
            self.pending[job] = result

    def flush(self):
        if not self.pending:
            return
        refused = self.mode.write(self.pending)
        for job, result in self.pending.items():
            label = self.mode.label(job.row)
            if job in refused:
                self.record(label, job.row.pk, "failed", refused[job], job.key, result.size)
            else:
                self.record(label, job.row.pk, result.status, result.reason, job.key, result.size)
        self.mode.release([job.row for job in self.pending])
        self.pending.clear()

    def loop(self, stop):
        rows = self.mode.rows(self.record, self.transfers)
        in_flight = {}
        # Finished futures arrive here: cheaper than wait() re-arming a waiter
        # on every future in flight at each completion.
        finished = queue.SimpleQueue()
        exhausted = False
        transfers = self.transfers
        while True:
            jobs = []
            while (
                not exhausted
                and not stop.is_set()
                and len(in_flight) + len(jobs) < transfers.capacity()
            ):
                row = next(rows, None)
                if row is None:
                    exhausted = True
                elif (job := self.plan(row)) is not None:
                    jobs.append(job)
                    if len(jobs) >= transfers.batch():
                        self.start(jobs, in_flight, finished)
                        jobs = []
            self.start(jobs, in_flight, finished)
            if not in_flight:
                break
            # Woken in batches, not once per upload: the files read ahead keep
            # every worker busy meanwhile, and each wake-up of this thread
            # takes the interpreter lock from the ones sending requests.
            at_least = min(transfers.batch(), len(in_flight))
            for future in drain(finished, timeout=1.0, at_least=at_least, linger=REFILL_LINGER):
                self.collect(in_flight.pop(future), future.result())
            if len(self.pending) >= self.options.batch_size:
                self.flush()
            if self.progress:
                self.progress.update(self.summary)
        self.flush()
        rows.close()
        self.summary.interrupted = stop.is_set()

    def start(self, jobs, in_flight, finished):
        if not jobs:
            return
        for job, future in zip(jobs, self.transfers.dispatch(jobs), strict=True):
            in_flight[future] = job
            future.add_done_callback(finished.put)

    def close(self):
        self.transfers.close()
        self.mode.close()
        if self.progress:
            self.progress.update(self.summary)
            self.progress.close()
        self.report.close()


def run_backfill(options, *, model=None, stream=None):
    """Backfill the selected rows; the Summary (exit_code 0 or 1).
    Raises BackfillError when the run cannot start (exit 2)."""
    run = Run(open_mode(options, model), options, stream or sys.stderr)
    # Pillow warns (rather than refuses) between 1× and 2× MAX_IMAGE_PIXELS;
    # the probe refuses those itself, so the warning is only noise here.
    with stop_on_sigint() as stop, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            run.loop(stop)
        finally:
            run.close()
    return run.summary.finish()
