"""The quarantine: R2 has no object versioning, so ``r2_audit
--delete-orphans --yes`` never deletes an orphan outright. It moves it
(CopyObject, then delete) to ``QUARANTINE_PREFIX + "<YYYY-MM-DD>/" + key``,
where ``--restore KEY`` / ``--restore-all`` move it back and
``--purge-quarantine --older-than DAYS --yes`` deletes it for good.

    mover = OrphanMover(bucket, sources, emit, result)   # during the audit
    restore(bucket, ["users/a.jpg"], emit)              # QuarantineResult
    purge(bucket, older_than_days=30, yes=True, emit=emit)

Every step that could lose a referenced object is re-checked just before
it: the references before each small batch is copied, again after the copy
before the original is deleted (a row that appeared meanwhile gets its
object back at once), the copy's source ETag (an object replaced since it
was listed is not moved), and a restore never overwrites an object that
exists at the original key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from r2_toolkit.core.compat import copy_if_absent
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe, error_code, is_missing, is_precondition_failed
from r2_toolkit.migrations_r2.bucket import Bucket
from r2_toolkit.migrations_r2.findings import Finding
from r2_toolkit.migrations_r2.listing import Listed, Lister
from r2_toolkit.migrations_r2.report import RunResult
from r2_toolkit.migrations_r2.retries import RETRIES, RetryPolicy, with_retries

if TYPE_CHECKING:  # for the annotations only
    from r2_toolkit.migrations_r2.audit import AuditResult


class References(Protocol):
    """A column re-read before a move (references.FieldSource, KeyColumn)."""

    def referenced(self, keys: Iterable[str]) -> set[str]: ...


BATCH = 100  # orphans per re-check: small, so the window after it stays short
COPY_LIMIT = 5 * 1024**3  # CopyObject's limit; larger objects take a multipart copy
UNSUPPORTED = {"NotImplemented", "InvalidArgument", "InvalidRequest"}  # no conditional copy
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def quarantine_key(key: str, day: str) -> str:
    return f"{toolkit_settings.QUARANTINE_PREFIX}{day}/{key}"


def original_of(quarantined: str) -> tuple[str, str] | None:
    """(day, original key) of a quarantined key, or None if it is not one."""
    prefix = toolkit_settings.QUARANTINE_PREFIX
    if not quarantined.startswith(prefix):
        return None
    day, _, key = quarantined[len(prefix) :].partition("/")
    return (day, key) if DAY.match(day) and key else None


class Objects:
    """The few object operations a move needs, each retried on transient
    errors; ``requests`` counts the calls sent."""

    def __init__(self, bucket: Bucket, policy: RetryPolicy = RETRIES) -> None:
        self.bucket, self.policy = bucket, policy
        self.requests = 0

    def call(self, method: str, **params: Any) -> Any:
        self.requests += 1
        send = getattr(self.bucket.client, method)
        return with_retries(lambda: send(Bucket=self.bucket.name, **params), self.policy)

    def exists(self, key: str) -> bool:
        try:
            self.call("head_object", Key=key)
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        return True

    def copy(
        self, source: str, target: str, *, etag: str, size: int, if_absent: bool = False
    ) -> str | None:
        """Copy ``source`` (only while its ETag is ``etag``) to ``target``;
        None, or why not. ``if_absent``: refuse an existing ``target``
        where the client can say so (the caller HEADs first as well)."""
        copy_source = {"Bucket": self.bucket.name, "Key": source}
        try:
            if size > COPY_LIMIT:  # boto3's managed copy: UploadPartCopy parts
                self.requests += 1
                self.bucket.client.copy(
                    copy_source, self.bucket.name, target, ExtraArgs={"CopySourceIfMatch": etag}
                )
                return None
            params = {"Key": target, "CopySource": copy_source, "CopySourceIfMatch": f'"{etag}"'}
            extra = copy_if_absent(self.bucket.client) if if_absent else {}
            try:
                self.call("copy_object", **params, **extra)
            except Exception as exc:
                if not extra or error_code(exc) not in UNSUPPORTED:
                    raise
                self.call("copy_object", **params)  # the HEAD before it stands guard
            return None
        except Exception as exc:
            if is_precondition_failed(exc):
                return "it changed (or the target appeared) since it was listed"
            return describe(exc)

    def delete(self, keys: Sequence[str]) -> dict[str, str]:
        """{key: why it was not deleted} for one DeleteObjects call."""
        if not keys:
            return {}
        response = self.call(
            "delete_objects", Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        return {
            error["Key"]: error.get("Message") or error.get("Code") or "refused"
            for error in response.get("Errors", ())
        }

    def quarantined(self) -> Iterator[tuple[Listed, tuple[str, str]]]:
        """Every Listed object under the quarantine prefix, with (day, key)."""
        lister = Lister(
            self.bucket.client,
            self.bucket.name,
            toolkit_settings.QUARANTINE_PREFIX,
            policy=self.policy,
        )
        try:
            for obj in lister:
                parsed = original_of(obj.key)
                if parsed is not None:
                    yield obj, parsed
        finally:
            self.requests += lister.requests


def listed_as(detail: dict[str, Any]) -> dict[str, Any]:
    """The copy's conditions from an orphan finding: its listed ETag and size."""
    return {"etag": detail["etag"], "size": detail["size"]}


def referenced(sources: Iterable[References], keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for source in sources:
        found |= source.referenced(keys)
    return found


class OrphanMover:
    """Orphans moved to the quarantine in batches of BATCH: references
    re-checked, each copied (while its ETag is the listed one), references
    re-checked again, then the originals deleted in one call. A batch
    interrupted leaves at worst a copy beside its original; a re-run moves
    what is left."""

    def __init__(
        self,
        bucket: Bucket,
        sources: Sequence[References],
        emit: Callable[[Finding], object],
        result: AuditResult,
        day: str | None = None,
    ) -> None:
        self.objects = Objects(bucket)
        self.sources, self.emit, self.result = sources, emit, result
        self.day = day or today()
        self.batch: list[Finding] = []

    def add(self, finding: Finding) -> None:
        self.batch.append(finding)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        copies = self.copy_unreferenced(batch)
        errors, kept = self.remove_originals(copies)
        self.result.requests += self.objects.requests
        self.objects.requests = 0
        for finding in batch:
            key = finding.storage_key
            if key not in copies or key in kept:
                continue  # a row took it since it was listed: not an orphan any more
            target, error = copies[key]
            error = error or errors.get(key)
            if error is None:
                self.result.quarantined += 1
                detail = {"quarantined": True, "quarantine_key": target}
            else:
                self.result.quarantine_failed += 1
                detail = {"quarantined": False, "quarantine_error": error}
            self.emit(replace(finding, detail={**finding.detail, **detail}))

    def copy_unreferenced(self, batch: list[Finding]) -> dict[str, tuple[str, str | None]]:
        """{key: (quarantine key, None or why the copy failed)} for the
        batch's keys that no row references now."""
        # An orphan's finding always has its object's key.
        taken = referenced(self.sources, [cast(str, f.storage_key) for f in batch])
        copies: dict[str, tuple[str, str | None]] = {}
        for finding in batch:
            key = cast(str, finding.storage_key)
            if key in taken:
                continue
            target = quarantine_key(key, self.day)
            detail = finding.detail
            copies[key] = (target, self.objects.copy(key, target, **listed_as(detail)))
        return copies

    def remove_originals(
        self, copies: dict[str, tuple[str, str | None]]
    ) -> tuple[dict[str, str], set[str]]:
        """Delete the originals copied, but those a row took during the copy
        (their copies are dropped instead); ({key: why not deleted}, kept)."""
        copied = [key for key, (_, error) in copies.items() if error is None]
        kept = referenced(self.sources, copied)
        self.objects.delete([copies[key][0] for key in copied if key in kept])
        errors = self.objects.delete([key for key in copied if key not in kept])
        return errors, kept

    def abandon(self) -> None:
        """Interrupted: the orphans waiting for a batch are reported, not moved."""
        batch, self.batch = self.batch, []
        for finding in batch:
            self.emit(replace(finding, detail={**finding.detail, "quarantined": False}))


@dataclass(frozen=True)
class Move:
    """One object a restore or purge acted on (a line of --report)."""

    action: str  # restored | conflict | failed | not_found | purged | would_purge
    key: str  # the original key
    quarantine_key: str | None
    message: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {
            "action": self.action,
            "key": self.key,
            "quarantine_key": self.quarantine_key,
            "message": self.message,
        }


@dataclass
class QuarantineResult(RunResult):
    bucket: str = ""
    mode: str = "restore"  # or "purge"
    counts: dict[str, int] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)  # the first few, for the text output

    def add(self, move: Move) -> None:
        self.counts[move.action] = self.counts.get(move.action, 0) + 1
        if len(self.moves) < 1000:
            self.moves.append(move)

    @property
    def failures(self) -> int:
        return sum(self.counts.get(k, 0) for k in ("conflict", "failed", "not_found"))

    def document(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": {"mode": self.mode, **self.counts, "requests": self.requests},
            "objects": [m.as_dict() for m in self.moves],
        }


def restore(
    bucket: Bucket,
    keys: Iterable[str] | None = None,
    emit: Callable[[Move], object] | None = None,
) -> QuarantineResult:
    """Move quarantined objects back: those of ``keys`` (a quarantined key
    restores that copy; an original key its newest copy), or the newest copy
    of every one when ``keys`` is None. An object already at the original
    key is never overwritten: that is a ``conflict``, the copy stays."""
    objects, result = Objects(bucket), QuarantineResult(bucket=bucket.name, mode="restore")
    wanted = None if keys is None else set(keys)
    chosen: dict[
        str, tuple[tuple[bool, str, datetime], Listed]
    ] = {}  # original key -> (rank, Listed)
    for obj, (day, key) in objects.quarantined():
        if wanted is not None and key not in wanted and obj.key not in wanted:
            continue
        named = wanted is not None and obj.key in wanted  # asked for by its own key
        rank = (named, day, obj.last_modified)
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, obj)
    for key in sorted(chosen):
        record(result, emit, move_back(objects, key, chosen[key][1]))
    found = set(chosen) | {obj.key for _, obj in chosen.values()}
    for key in sorted((wanted or set()) - found):
        record(result, emit, Move("not_found", key, None, "nothing in the quarantine has it"))
    result.requests = objects.requests
    return result.finish()


def move_back(objects: Objects, key: str, obj: Listed) -> Move:
    if objects.exists(key):
        return Move("conflict", key, obj.key, "an object exists at the original key: not replaced")
    error = objects.copy(obj.key, key, etag=obj.etag, size=obj.size, if_absent=True)
    if error is not None:
        return Move("failed", key, obj.key, error)
    errors = objects.delete([obj.key])
    if errors:
        return Move("restored", key, obj.key, f"the quarantined copy stays: {errors[obj.key]}")
    return Move("restored", key, obj.key)


def purge(
    bucket: Bucket,
    older_than_days: float,
    yes: bool,
    emit: Callable[[Move], object] | None = None,
) -> QuarantineResult:
    """Delete for good what was quarantined more than ``older_than_days``
    days ago (by its LastModified: the day it was moved); without ``yes``
    only say what would go."""
    objects, result = Objects(bucket), QuarantineResult(bucket=bucket.name, mode="purge")
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    batch: list[tuple[Listed, str]] = []

    def flush() -> None:
        errors = objects.delete([obj.key for obj, _ in batch])
        for obj, key in batch:
            error = errors.get(obj.key)
            action, message = ("failed", error) if error else ("purged", "")
            record(result, emit, Move(action, key, obj.key, message))
        batch.clear()

    for obj, (_, key) in objects.quarantined():
        if obj.last_modified > cutoff:
            continue
        if not yes:
            record(result, emit, Move("would_purge", key, obj.key))
            continue
        batch.append((obj, key))
        if len(batch) >= 1000:  # DeleteObjects' maximum
            flush()
    if batch:
        flush()
    result.requests = objects.requests
    return result.finish()


def record(result: QuarantineResult, emit: Callable[[Move], object] | None, move: Move) -> None:
    result.add(move)
    if emit is not None:
        emit(move)
