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

from __future__ import annotations

import queue
import sys
import warnings
from collections.abc import Generator, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

from django.conf import settings
from PIL import Image

from r2_toolkit.core.errors import describe
from r2_toolkit.core.target import ImageTarget, TargetError, record_model
from r2_toolkit.migrations_r2 import selection
from r2_toolkit.migrations_r2.pace import Pace
from r2_toolkit.migrations_r2.paths import media_root_of
from r2_toolkit.migrations_r2.records import RecordMode, record_target
from r2_toolkit.migrations_r2.report import Progress, ReportFile, Summary
from r2_toolkit.migrations_r2.transfer import (
    BackfillError,
    Failure,
    Job,
    Result,
    Settled,
    Transfers,
    drain,
    stop_on_sigint,
)

if TYPE_CHECKING:  # field_mode loads when a run needs it
    import threading

    from r2_toolkit.migrations_r2.field_mode import FieldMode
    from r2_toolkit.migrations_r2.transfer import BucketSource, Recorder

    R = TypeVar("R")

    class Mode(Protocol[R]):
        """What Run asks of a mode (RecordMode, FieldMode), over rows of its own kind."""

        @property
        def alias(self) -> str | None: ...
        @property
        def int_limit(self) -> int | None: ...
        def label(self, row: R) -> str: ...
        def rows(self, record: Recorder, transfers: BucketSource) -> Generator[R, None, None]: ...
        def total(self) -> int: ...
        def plan(self, row: R, transfers: BucketSource) -> Job | Failure: ...
        def write(self, pending: Mapping[Job, Result]) -> dict[Job, str]: ...
        def release(self, rows: Iterable[R]) -> None: ...
        def close(self) -> None: ...


__all__ = ["BackfillError", "Options", "prepare", "run_backfill"]
REFILL_LINGER = 0.01  # seconds the main thread waits to gather finished uploads


@dataclass
class Options(Pace):
    dry_run: bool = False
    limit: int | None = None
    shard: selection.Shard | None = None
    verify: bool = False
    rewrite_urls: bool = False
    report: str | None = None
    interactive: bool | None = None  # progress bar; None: when stderr is a terminal
    storage: str = "default"  # the STORAGES alias (field mode)
    fields: tuple[str, ...] = ()  # "app_label.Model.field" labels (field mode); () = the settings'
    source: str | None = None  # the legacy files' directory; None = MEDIA_ROOT

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("batch_size", "workers", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BackfillError(
                    f"--{name.replace('_', '-')} must be a positive number, not {value}."
                )


def source_root(source: str | None = None) -> Path:
    """The resolved directory legacy files are read from; BackfillError with the fix."""
    try:
        if source is None:
            return media_root_of(settings.MEDIA_ROOT)
        return media_root_of(source, "--source")
    except ValueError as exc:
        raise BackfillError(str(exc)) from None


@overload
def prepare(
    model: Any = None, need_media_root: Literal[True] = True, source: str | None = None
) -> tuple[ImageTarget, Path]: ...
@overload
def prepare(
    model: Any = None, *, need_media_root: Literal[False], source: str | None = None
) -> tuple[ImageTarget, None]: ...
def prepare(
    model: Any = None, need_media_root: bool = True, source: str | None = None
) -> tuple[ImageTarget, Path | None]:
    """(ImageTarget, the source directory) of the record mode, or BackfillError with the fix."""
    target = record_target(model)
    return target, (source_root(source) if need_media_root else None)


def is_record_mode(model: Any = None) -> bool:
    """Whether a run works on the record model (IMAGE_MODEL set, or a
    migration's historical model) rather than the site's file fields."""
    if model is not None:
        return True
    try:
        return record_model() is not None
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None


def open_mode(options: Options, model: Any = None) -> RecordMode | FieldMode:
    """The mode a run works in, every setting it needs validated."""
    if is_record_mode(model):
        target, root = prepare(model, source=options.source)
        return RecordMode(target, root, options)
    from r2_toolkit.migrations_r2.field_mode import FieldMode, field_targets

    return FieldMode(field_targets(options), source_root(options.source), options)


class Run:
    """One backfill run's state, driven from the main thread."""

    def __init__(self, mode: Mode[Any], options: Options, stream: IO[str]) -> None:
        self.mode, self.options, self.stream = mode, options, stream
        self.summary = Summary()
        self.report = ReportFile(options.report)
        workers = options.workers
        self.transfers = Transfers(workers, stream, mode.alias, mode.int_limit)
        self.progress: Progress | None = None
        self.pending: dict[
            Job, Result
        ] = {}  # Job -> Result, verified and waiting for the batch write

    def record(self, row: Settled) -> None:
        self.summary.count(row.status, row.size)
        self.report.write(row.pk, row.status, row.reason, row.key, row.size, model=row.label)

    def plan(self, row: Any) -> Job | None:
        """A Job for ``row``, or None when it is settled before any transfer."""
        planned = self.mode.plan(row, self.transfers)
        if isinstance(planned, Failure):
            self.fail(row, planned.reason, planned.key)
            return None
        if self.progress is None:
            self.progress = Progress(self.stream, self.count_total(), self.options.interactive)
        return planned

    def count_total(self) -> int | None:
        interactive = self.options.interactive
        if not (self.stream.isatty() if interactive is None else interactive):
            return None  # only the bar shows a total and an ETA
        return self.mode.total()

    def fail(self, row: Any, reason: str, key: str | None = None, size: int | None = None) -> None:
        self.record(Settled(self.mode.label(row), row.pk, "failed", reason, key, size))
        self.mode.release([row])

    def collect(self, job: Job, result: Result) -> None:
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

    def flush(self) -> None:
        if not self.pending:
            return
        refused = self.mode.write(self.pending)
        for job, result in self.pending.items():
            label = self.mode.label(job.row)
            if job in refused:
                self.record(
                    Settled(label, job.row.pk, "failed", refused[job], job.key, result.size)
                )
            else:
                self.record(
                    Settled(label, job.row.pk, result.status, result.reason, job.key, result.size)
                )
        self.mode.release([job.row for job in self.pending])
        self.pending.clear()

    def loop(self, stop: threading.Event) -> None:
        rows = self.mode.rows(self.record, self.transfers)
        in_flight: dict[Future[Result], Job] = {}
        # Finished futures arrive here: cheaper than wait() re-arming a waiter
        # on every future in flight at each completion.
        finished: queue.SimpleQueue[Future[Result]] = queue.SimpleQueue()
        exhausted = False
        transfers = self.transfers
        while True:
            jobs: list[Job] = []
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

    def start(
        self,
        jobs: list[Job],
        in_flight: dict[Future[Result], Job],
        finished: queue.SimpleQueue[Future[Result]],
    ) -> None:
        if not jobs:
            return
        for job, future in zip(jobs, self.transfers.dispatch(jobs), strict=True):
            in_flight[future] = job
            future.add_done_callback(finished.put)

    def close(self) -> None:
        self.transfers.close()
        self.mode.close()
        if self.progress:
            self.progress.update(self.summary)
            self.progress.close()
        self.report.close()


def run_backfill(options: Options, *, model: Any = None, stream: IO[str] | None = None) -> Summary:
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
