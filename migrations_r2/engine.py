"""The backfill run: selection on the main thread, file probing and uploads
in a thread pool, verified results written back in batches.

    summary = run_backfill(Options(workers=16))

At most ``2 × workers`` files are in flight at any time, so memory stays
flat however large the table is. Ctrl-C (SIGINT) stops taking new rows,
finishes and writes the rows in flight, and returns the summary.
"""

import inspect
import logging
import queue
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.keys import join_location, storage_name
from r2_toolkit.core.target import ImageTarget, TargetError
from r2_toolkit.migrations_r2 import selection, writer
from r2_toolkit.migrations_r2.bucket import honours_if_none_match, open_bucket
from r2_toolkit.migrations_r2.native import Transport, open_native
from r2_toolkit.migrations_r2.paths import UnsafePath, media_root_of, resolve_inside
from r2_toolkit.migrations_r2.probe import NotAnImage, probe_file
from r2_toolkit.migrations_r2.report import Progress, ReportFile, Summary
from r2_toolkit.migrations_r2.uploader import IfNoneMatch, Uploader

log = logging.getLogger("r2_toolkit.backfill")
REFILL_LINGER = 0.01  # seconds the main thread waits to gather finished uploads


class BackfillError(Exception):
    """The run could not start or go on (exit 2); ``str(exc)`` says why and the fix."""


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

    def __post_init__(self):
        self.batch_size = self.batch_size or toolkit_settings.BACKFILL_BATCH_SIZE
        self.workers = self.workers or toolkit_settings.BACKFILL_WORKERS
        for name in ("batch_size", "workers", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BackfillError(
                    f"--{name.replace('_', '-')} must be a positive number, not {value}."
                )


@dataclass(frozen=True)
class Job:
    row: selection.Row
    path: str
    key: str
    public_url: str
    object_parameters: dict


@dataclass(frozen=True)
class Result:
    status: str
    reason: str = ""
    values: writer.Values | None = None
    size: int | None = None
    error: Exception | None = None  # the request that failed the upload


def prepare(model=None, need_media_root=True):
    """(ImageTarget, MEDIA_ROOT) or BackfillError with the fix."""
    try:
        target = ImageTarget.resolve(model)
    except TargetError as exc:
        raise BackfillError(exc.sentence()) from None
    try:
        root = media_root_of(settings.MEDIA_ROOT) if need_media_root else None
    except ValueError as exc:
        raise BackfillError(str(exc)) from None
    return target, root


def connect(workers, *, probe_writes=True):
    """(Bucket, whether its server is known to honour If-None-Match: True, or
    None until the run's first upload finds out). Builds clients only: no
    request is sent, no probe object is written (``probe_writes`` is kept for
    callers of the old signature). BackfillError when there is no bucket."""
    try:
        bucket = open_bucket(workers)
    except Exception as exc:
        raise BackfillError(f"cannot write to the bucket: {describe(exc)}") from None
    return bucket, (True if honours_if_none_match(bucket.storage.endpoint_url) else None)


def native_client(bucket):
    """(NativePut or None, why boto3 sends the uploads instead)."""
    try:
        choice = toolkit_settings.BACKFILL_CLIENT
    except ImproperlyConfigured as exc:
        raise BackfillError(str(exc)) from None
    if choice == "boto3":
        return None, 'R2_TOOLKIT["BACKFILL_CLIENT"] is "boto3"'
    return open_native(bucket.storage, bucket.name)


def process(job, uploader, int_limit):
    """Probe and upload one file (in a worker thread): a Result, or a
    coroutine giving it when the upload is one native PUT."""
    try:
        probed = probe_file(job.path)
    except FileNotFoundError:
        return Result("failed", f"missing file: {job.row.name!r} is not in MEDIA_ROOT")
    except NotAnImage as exc:
        return Result("failed", str(exc))
    except OSError as exc:
        return Result("failed", f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug on hostile input fails the row, not the run
        return Result("failed", f"cannot read the image: {describe(exc)}")
    if int_limit is not None and max(probed.size, probed.width, probed.height) > int_limit:
        return Result(
            "failed",
            f"the file's size or dimensions exceed the integer columns' maximum {int_limit}",
        )
    outcome = uploader.upload(job.key, probed, job.object_parameters)
    if inspect.isawaitable(outcome):  # a native PUT, for the transport's loop
        return finish(job, probed, outcome)
    return result_of(job, probed, outcome)


async def finish(job, probed, pending):
    return result_of(job, probed, await pending)


def result_of(job, probed, outcome):
    values = writer.Values(
        job.key, job.public_url, probed.mime_type, probed.width, probed.height, probed.size
    )
    ok = outcome.status in ("uploaded", "adopted")
    return Result(
        outcome.status, outcome.reason, values if ok else None, probed.size, outcome.error
    )


@contextmanager
def stop_on_sigint():
    """An Event set by the first Ctrl-C (a second one interrupts as usual)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, previous)
        sys.stderr.write(
            "\nr2_backfill: stopping after the files in flight (Ctrl-C again to abort)\n"
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def finished_with(result):
    """A Future that already holds ``result``."""
    future = Future()
    future.set_result(result)
    return future


@contextmanager
def quick_handoffs(interval=0.0005):
    """A shorter GIL switch interval for the run: the transport's loop needs
    the GIL for a moment to send each next request, and the default 5 ms
    the main thread may hold it while probing files adds up to 5 ms to
    every round trip."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def drain(finished, timeout, at_least=1, linger=0.0):
    """What ``finished`` holds: at least one item, unless ``timeout`` passes
    first; then more, for up to ``linger`` seconds, until ``at_least``."""
    try:
        items = [finished.get(timeout=timeout)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + linger
    while True:
        try:
            items.append(finished.get_nowait())
            continue
        except queue.Empty:
            pass
        remaining = deadline - time.monotonic()
        if len(items) >= at_least or remaining <= 0:
            return items
        try:
            items.append(finished.get(timeout=remaining))
        except queue.Empty:
            return items


class Run:
    """One backfill run's state, driven from the main thread."""

    def __init__(self, target, root, options, stream):
        self.target, self.root, self.options = target, root, options
        self.summary = Summary()
        self.report = ReportFile(options.report)
        self.claims = (
            selection.AdvisoryClaims(target) if selection.AdvisoryClaims.available(target) else None
        )
        self.limits = writer.column_limits(target)
        self.int_limit = min((high for _, high in self.limits.values() if high), default=None)
        self.stream = stream
        self.progress = None
        self.bucket = self.uploader = self.pool = self.transport = None
        self.pending = {}  # pk -> (Job, Result), verified and waiting for the batch write
        self.directories = {}  # MEDIA_ROOT's directories -> their real paths

    def rows(self):
        for rows, skipped in selection.pages(
            self.target,
            self.target.legacy(),
            self.options.batch_size,
            limit=self.options.limit,
            shard=self.options.shard,
            claims=self.claims,
        ):
            for pk in skipped:
                self.record(pk, "skipped", "another r2_backfill run holds this row")
            yield from rows

    def start_uploads(self):
        """Set up on the first row that needs an upload, never before: a run
        with nothing to do touches no network. Nothing is sent here either:
        the first upload runs alone and tells whether the bucket can be
        written (see loop)."""
        self.bucket, honoured = connect(self.options.workers)
        native, reason = native_client(self.bucket)
        if native is None:
            self.stream.write(f"r2_backfill: uploading through boto3: {reason}\n")
        else:
            log.info("uploading through obstore")
            self.transport = Transport(self.options.workers)
        self.uploader = Uploader(
            lambda: self.bucket.client,
            self.bucket.name,
            {},
            native=native,
            if_none_match=IfNoneMatch(honoured),
            asynchronous=self.transport is not None,
        )
        if self.transport is None:
            self.pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="r2-backfill")
        self.progress = Progress(self.stream, self.count_legacy(), self.options.interactive)

    def count_legacy(self):
        interactive = self.options.interactive
        if not (self.stream.isatty() if interactive is None else interactive):
            return None  # only the bar shows a total and an ETA
        total = self.target.legacy().count()
        return min(total, self.options.limit) if self.options.limit else total

    def plan(self, row):
        """A Job for ``row``, or None when it fails before any upload."""
        if row.username is None:
            return self.fail(row.pk, f"the row has no owner: {self.target.username_path} is empty")
        try:
            path = resolve_inside(self.root, row.name, self.directories)
        except UnsafePath as exc:
            return self.fail(row.pk, str(exc))
        if self.bucket is None:
            self.start_uploads()
        name = storage_name(row.name, row.username, self.bucket.location)
        key = join_location(self.bucket.location, name)
        url = self.bucket.public_url(name)
        reason = writer.first_problem(
            {"storage_key": key, "public_url": url}, self.limits, self.target
        )
        if reason:
            return self.fail(row.pk, reason, key)
        return Job(row, path, key, url, self.bucket.object_parameters(name))

    def fail(self, pk, reason, key=None, size=None):
        self.record(pk, "failed", reason, key, size)
        if self.claims:
            self.claims.release([pk])
        return None

    def record(self, pk, status, reason="", key=None, size=None):
        self.summary.count(status, size)
        self.report.write(pk, status, reason, key, size)

    def collect(self, job, result):
        if result.error is not None and not self.uploader.answered.is_set():
            # An upload failed before the bucket accepted any: every other
            # would too. Stop without trying the rest (exit 2, no row touched;
            # an object that one of the first uploads did store is adopted by
            # the next run).
            raise BackfillError(f"cannot write to the bucket: {describe(result.error)}")
        if result.values is None:
            self.fail(job.row.pk, result.reason, job.key, result.size)
        else:
            self.pending[job.row.pk] = (job, result)

    def flush(self):
        if not self.pending:
            return
        refused = writer.write(self.target, {pk: r.values for pk, (_, r) in self.pending.items()})
        for pk, (job, result) in self.pending.items():
            if pk in refused:
                self.record(pk, "failed", refused[pk], job.key, result.size)
            else:
                self.record(pk, result.status, result.reason, job.key, result.size)
        if self.claims:
            self.claims.release(list(self.pending))
        self.pending.clear()

    def capacity(self):
        """Files in flight: two per worker (one uploading, one read and
        waiting), so memory is bounded by the workers, not by the table.
        Only while the first upload finds out whether the server honours
        If-None-Match does it go alone (the others would each need a HEAD
        first); where that is known (R2, AWS S3) the first uploads go out
        together, and if the bucket cannot be written the run stops at the
        first answer all the same (see collect)."""
        if self.uploader is not None and self.uploader.if_none_match.honoured is None:
            return 1
        return 2 * self.options.workers

    def loop(self, stop):
        rows = self.rows()
        in_flight = {}
        # Finished futures arrive here: cheaper than wait() re-arming a waiter
        # on every future in flight at each completion.
        finished = queue.SimpleQueue()
        exhausted = False
        while True:
            jobs = []
            while (
                not exhausted and not stop.is_set() and len(in_flight) + len(jobs) < self.capacity()
            ):
                row = next(rows, None)
                if row is None:
                    exhausted = True
                elif (job := self.plan(row)) is not None:
                    jobs.append(job)
                    if len(jobs) >= self.batch():
                        self.start(jobs, in_flight, finished)
                        jobs = []
            self.start(jobs, in_flight, finished)
            if not in_flight:
                break
            # Woken in batches, not once per upload: the files read ahead keep
            # every worker busy meanwhile, and each wake-up of this thread
            # takes the interpreter lock from the ones sending requests.
            at_least = min(self.batch(), len(in_flight))
            for future in drain(finished, timeout=1.0, at_least=at_least, linger=REFILL_LINGER):
                self.collect(in_flight.pop(future), future.result())
            if len(self.pending) >= self.options.batch_size:
                self.flush()
            if self.progress:
                self.progress.update(self.summary)
        self.flush()
        rows.close()
        self.summary.interrupted = stop.is_set()

    def batch(self):
        """Files handed over, and finished uploads gathered, at a time: a
        quarter of the workers (one while the first upload runs alone)."""
        return max(1, self.options.workers // 4) if self.capacity() > 1 else 1

    def start(self, jobs, in_flight, finished):
        for job, future in zip(jobs, self.dispatch(jobs), strict=True):
            in_flight[future] = job
            future.add_done_callback(finished.put)

    def dispatch(self, jobs):
        """A Future of ``process(job)`` for each job. On the native path the
        files are read and probed here (a third of a millisecond for a 150 KB
        image) and their uploads handed to the transport's loop in one call;
        otherwise all of it runs in a worker thread, which waits for its
        request."""
        if self.transport is None:
            return [self.pool.submit(process, job, self.uploader, self.int_limit) for job in jobs]
        results = [process(job, self.uploader, self.int_limit) for job in jobs]
        started = iter(self.transport.submit_all([r for r in results if inspect.isawaitable(r)]))
        return [next(started) if inspect.isawaitable(r) else finished_with(r) for r in results]

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)  # none is queued unless it stopped
        if self.transport is not None:
            self.transport.close()
        if self.claims:
            self.claims.release_all()
        if self.progress:
            self.progress.update(self.summary)
            self.progress.close()
        self.report.close()


def run_backfill(options, *, model=None, stream=None):
    """Backfill the selected legacy rows; the Summary (exit_code 0 or 1).
    Raises BackfillError when the run cannot start (exit 2)."""
    target, root = prepare(model)
    run = Run(target, root, options, stream or sys.stderr)
    # Pillow warns (rather than refuses) between 1× and 2× MAX_IMAGE_PIXELS;
    # the probe refuses those itself, so the warning is only noise here.
    with stop_on_sigint() as stop, warnings.catch_warnings(), quick_handoffs():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            run.loop(stop)
        finally:
            run.close()
    return run.summary.finish()
