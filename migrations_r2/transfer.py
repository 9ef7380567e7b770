"""Moving files: probing each and uploading it, in a thread pool or on the
native transport's loop, for both kinds of run (record rows and file fields).

:class:`Transfers` is set up on the first file that needs an upload, never
before: a run with nothing to do touches no network. At most
``2 × workers`` files are in flight, so memory stays flat however large the
table is.
"""

from __future__ import annotations

import inspect
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.migrations_r2.bucket import Bucket, honours_if_none_match, open_bucket
from r2_toolkit.migrations_r2.native import NativePut, Transport, open_native
from r2_toolkit.migrations_r2.probe import NotAnImage, ProbedFile, probe_file
from r2_toolkit.migrations_r2.uploader import IfNoneMatch, Outcome, Uploader

if TYPE_CHECKING:  # for the annotations only: the modes import this module
    from r2_toolkit.migrations_r2.field_mode import FieldRow
    from r2_toolkit.migrations_r2.selection import Row

T = TypeVar("T")

log = logging.getLogger("r2_toolkit.backfill")


class BackfillError(Exception):
    """The run could not start or go on (exit 2); ``str(exc)`` says why and the fix."""


class BucketSource(Protocol):
    """What a mode asks of a run's transfers: the bucket, connected on first use."""

    def open(self) -> Bucket: ...


class Settled(NamedTuple):
    """A row settled: its model's label, its pk and status, and the reason,
    object key and size where they are known."""

    label: str
    pk: object
    status: str
    reason: str = ""
    key: str | None = None
    size: int | None = None


Recorder = Callable[[Settled], None]  # takes each settled row


@dataclass(frozen=True, eq=False)  # one per file: compared (and hashed) by identity
class Job:
    """One file to move: ``row`` is the mode's own (it has ``pk`` and
    ``name``); ``upload`` False probes the file only (its object is already
    in the bucket, its row still wants what the probe tells)."""

    row: Row | FieldRow
    path: str
    key: str
    public_url: str | None
    object_parameters: dict[str, Any]
    upload: bool = True
    new_name: str | None = None  # the row's file name becomes this (a KEY_TEMPLATE key)


@dataclass(frozen=True)
class Failure:
    """A row that fails before any upload (the modes' plan() answers it
    instead of a Job)."""

    reason: str
    key: str | None = None


@dataclass(frozen=True)
class Result:
    status: str
    reason: str = ""
    probed: ProbedFile | None = None  # set when the object is verified in the bucket
    size: int | None = None
    error: Exception | None = None  # the request that failed the upload


def connect(workers: int, alias: str | None = None) -> tuple[Bucket, bool | None]:
    """(Bucket, whether its server is known to honour If-None-Match: True, or
    None until the run's first upload finds out). Builds clients only: no
    request is sent, no probe object is written. BackfillError when there is
    no bucket."""
    try:
        bucket = open_bucket(workers, alias)
    except Exception as exc:
        raise BackfillError(f"cannot write to the bucket: {describe(exc)}") from None
    return bucket, (True if honours_if_none_match(bucket.storage.endpoint_url) else None)


def native_client(bucket: Bucket) -> tuple[NativePut | None, str | None]:
    """(NativePut or None, why boto3 sends the uploads instead)."""
    try:
        choice = toolkit_settings.BACKFILL_CLIENT
    except ImproperlyConfigured as exc:
        raise BackfillError(str(exc)) from None
    if choice == "boto3":
        return None, 'R2_TOOLKIT["BACKFILL_CLIENT"] is "boto3"'
    return open_native(bucket.storage, bucket.name)


def probe(job: Job) -> tuple[ProbedFile, None] | tuple[None, str]:
    """(ProbedFile, None) or (None, the reason the row fails)."""
    try:
        return probe_file(job.path, job.row.name), None
    except FileNotFoundError:
        return None, f"missing file: {job.row.name!r} is not in the source directory"
    except NotAnImage as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}"
    except Exception as exc:  # a decoder bug on hostile input fails the row, not the run
        return None, f"cannot read the image: {describe(exc)}"


def too_big(probed: ProbedFile, int_limit: int | None) -> bool:
    values = (probed.size, probed.width or 0, probed.height or 0)
    return int_limit is not None and max(values) > int_limit


def process(
    job: Job, uploader: Uploader | None, int_limit: int | None
) -> Result | Coroutine[Any, Any, Result]:
    """Probe and upload one file (in a worker thread): a Result, or a
    coroutine giving it when the upload is one native PUT."""
    probed, reason = probe(job)
    if probed is None:
        return Result("failed", cast(str, reason))  # probe() gives one or the other
    if too_big(probed, int_limit):
        return Result(
            "failed",
            f"the file's size or dimensions exceed the integer columns' maximum {int_limit}",
        )
    if not job.upload:
        return Result("skipped", "already in the bucket", probed, probed.size)
    # A job that uploads opened the transfers (Transfers.dispatch): the uploader is set.
    outcome = cast(Uploader, uploader).upload(job.key, probed, job.object_parameters)
    if inspect.isawaitable(outcome):  # a native PUT, for the transport's loop
        return finish(probed, outcome)
    return result_of(probed, outcome)


async def finish(probed: ProbedFile, pending: Coroutine[Any, Any, Outcome]) -> Result:
    return result_of(probed, await pending)


def result_of(probed: ProbedFile, outcome: Outcome) -> Result:
    ok = outcome.status in ("uploaded", "adopted")
    return Result(
        outcome.status, outcome.reason, probed if ok else None, probed.size, outcome.error
    )


@contextmanager
def stop_on_sigint() -> Iterator[threading.Event]:
    """An Event set by the first Ctrl-C (a second one interrupts as usual)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
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


def finished_with(result: T) -> Future[T]:
    """A Future that already holds ``result``."""
    future: Future[T] = Future()
    future.set_result(result)
    return future


def drain(
    finished: queue.SimpleQueue[T], timeout: float, at_least: int = 1, linger: float = 0.0
) -> list[T]:
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


class Transfers:
    """The bucket, the uploader and the workers of one run."""

    def __init__(
        self, workers: int, stream: IO[str], alias: str | None = None, int_limit: int | None = None
    ) -> None:
        self.workers, self.stream, self.alias, self.int_limit = workers, stream, alias, int_limit
        self.bucket: Bucket | None
        self.uploader: Uploader | None
        self.pool: ThreadPoolExecutor | None
        self.transport: Transport | None
        self.bucket = self.uploader = self.pool = self.transport = None

    def open(self) -> Bucket:
        """Connect on first use; nothing is sent here either: the first
        upload runs alone and tells whether the bucket can be written."""
        if self.bucket is not None:
            return self.bucket
        self.bucket, honoured = connect(self.workers, self.alias)
        native, reason = native_client(self.bucket)
        if native is None:
            self.stream.write(f"r2_backfill: uploading through boto3: {reason}\n")
        else:
            log.info("uploading through obstore")
            self.transport = Transport(self.workers)
        self.uploader = Uploader(
            lambda: self.bucket.client,
            self.bucket.name,
            {},
            native=native,
            if_none_match=IfNoneMatch(honoured),
            asynchronous=self.transport is not None,
        )
        if self.transport is None:
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="r2-backfill")
        return self.bucket

    @property
    def answered(self) -> bool:
        """Whether the bucket accepted (or answered) an upload of this run."""
        return self.uploader is None or self.uploader.answered.is_set()

    def capacity(self) -> int:
        """Files in flight: two per worker (one uploading, one read and
        waiting), so memory is bounded by the workers, not by the table.
        Only while the first upload finds out whether the server honours
        If-None-Match does it go alone (the others would each need a HEAD
        first); where that is known (R2, AWS S3) the first uploads go out
        together, and if the bucket cannot be written the run stops at the
        first answer all the same (see Run.collect)."""
        if self.uploader is not None and self.uploader.if_none_match.honoured is None:
            return 1
        return 2 * self.workers

    def batch(self) -> int:
        """Files handed over, and finished uploads gathered, at a time: a
        quarter of the workers (one while the first upload runs alone)."""
        return max(1, self.workers // 4) if self.capacity() > 1 else 1

    def dispatch(self, jobs: Sequence[Job]) -> list[Future[Result]]:
        """A Future of ``process(job)`` for each job. On the native path the
        files are read and probed here (a third of a millisecond for a 150 KB
        image) and their uploads handed to the transport's loop in one call;
        otherwise all of it runs in a worker thread, which waits for its
        request. Probe-only jobs run here too."""
        if any(job.upload for job in jobs):
            self.open()
        if self.pool is not None:
            # The pool's uploader is synchronous: each process() gives a Result.
            return [
                cast(
                    "Future[Result]", self.pool.submit(process, job, self.uploader, self.int_limit)
                )
                for job in jobs
            ]
        results = [process(job, self.uploader, self.int_limit) for job in jobs]
        coroutines = [r for r in results if inspect.isawaitable(r)]
        # Coroutines come from an asynchronous uploader: the transport is set.
        transport = cast(Transport, self.transport)
        started = iter(transport.submit_all(coroutines) if coroutines else ())
        return [next(started) if inspect.isawaitable(r) else finished_with(r) for r in results]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)  # none is queued unless it stopped
        if self.transport is not None:
            self.transport.close()
        # The uploader's client factory closes over this object: a cycle. Left
        # to the interpreter's exit (the commands freeze the heap before it),
        # obstore's native store would be dropped while the interpreter is
        # being torn down, which can abort the process after a good run.
        self.uploader = self.pool = self.transport = None
