"""What the operator sees: the per-row report file (JSON lines), progress
(a tqdm bar on a terminal, periodic log lines otherwise) and each kind of
run's own result (a RunResult): Summary (uploads), VerifyResult, RewriteResult."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Self

from r2_toolkit.core.links import doc_url
from r2_toolkit.core.redact import scrub

STATUSES = ("uploaded", "adopted", "skipped", "failed")
LOG_EVERY_SECONDS = 10.0


@dataclass
class RunResult:
    """What every kind of run's result shares: how long the run took
    (``finish()`` at its end), whether it was cut short, and the exit code
    both give: 0 only for a run that went to its end with no ``failures``
    (each kind counts its own)."""

    elapsed: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)
    interrupted: bool = False
    requests: int = 0  # sent to the bucket, where the run counts them

    def finish(self) -> Self:
        self.elapsed = time.monotonic() - self.started
        return self

    @property
    def failures(self) -> int:
        return 0

    @property
    def ok(self) -> bool:
        return not (self.failures or self.interrupted)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


@dataclass
class Summary(RunResult):
    uploaded: int = 0
    adopted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0

    @property
    def done(self) -> int:
        return self.uploaded + self.adopted + self.skipped + self.failed

    @property
    def failures(self) -> int:
        return self.failed

    def count(self, status: str, size: int | None = 0) -> None:
        setattr(self, status, getattr(self, status) + 1)
        if status in ("uploaded", "adopted"):
            self.bytes += size or 0

    def text(self) -> str:
        seconds = max(self.elapsed, 1e-9)
        lines = [
            f"uploaded {self.uploaded}, adopted {self.adopted}, skipped {self.skipped}, "
            f"failed {self.failed}",
            f"{self.bytes / 1e6:.1f} MB in {self.elapsed:.1f}s "
            f"({(self.uploaded + self.adopted) / seconds:.1f} objects/s, "
            f"{self.bytes / 1e6 / seconds:.2f} MB/s)",
        ]
        if self.interrupted:
            lines.append(
                "interrupted: rows in flight were finished and written; "
                "run the command again to continue"
            )
        if self.failed:
            lines.append("some rows failed: see --report PATH for each row and its reason")
        return "\n".join(lines)


@dataclass
class RewriteResult(RunResult):
    """A ``--rewrite-urls`` run: rows whose public_url was (or would be) rewritten."""

    rewritten: int = 0
    unchanged: int = 0
    failed: int = 0
    dry_run: bool = False

    @property
    def failures(self) -> int:
        return self.failed

    def text(self) -> str:
        verb = "would rewrite" if self.dry_run else "rewrote"
        return (
            f"{verb} public_url of {self.rewritten} rows; "
            f"{self.unchanged} already right, {self.failed} failed"
        )


@dataclass
class VerifyResult(RunResult):
    """A ``--verify`` run: rows compared with their objects, and how many differ."""

    rows: int = 0
    mismatched: int = 0

    @property
    def failures(self) -> int:
        return self.mismatched

    def text(self) -> str:
        lines = [f"verified {self.rows} rows: {self.mismatched} mismatches"]
        if self.interrupted:
            lines.append("interrupted: run the command again to verify every row")
        if self.mismatched:
            lines.append(
                f"see --report PATH for each row and its reason; {doc_url('audit.md')} for fixes"
            )
        return "\n".join(lines)


class ReportFile:
    """One JSON line per row; a no-op without a path."""

    def __init__(self, path: str | None) -> None:
        self.stream: IO[str] | None = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(
        self,
        pk: object,
        status: str,
        reason: str | None = "",
        storage_key: str | None = None,
        size: int | None = None,
        *,
        model: str | None = None,
    ) -> None:
        if self.stream is None:
            return
        line = {
            "model": model,
            "id": str(pk),
            "status": status,
            "reason": scrub(reason or ""),
            "storage_key": storage_key,
            "bytes": size,
        }
        self.stream.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


class Progress:
    """A tqdm bar on a terminal, else a log line every LOG_EVERY_SECONDS."""

    def __init__(
        self,
        stream: IO[str],
        total: int | None = None,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.clock = clock
        interactive = stream.isatty() if interactive is None else interactive
        self.bar: Any = None  # a tqdm bar
        if interactive:
            from tqdm import tqdm  # only a terminal shows the bar

            self.bar = tqdm(total=total, unit="obj", file=stream, dynamic_ncols=True, smoothing=0.1)
        self.last_log = clock()

    def update(self, summary: Summary) -> None:
        elapsed = max(self.clock() - summary.started, 1e-9)
        if self.bar is not None:
            self.bar.update(summary.done - self.bar.n)
            self.bar.set_postfix_str(
                f"{summary.bytes / 1e6 / elapsed:.2f} MB/s, {summary.failed} failed", refresh=False
            )
        elif self.clock() - self.last_log >= LOG_EVERY_SECONDS:
            self.last_log = self.clock()
            self.stream.write(
                f"r2_backfill: {summary.done} rows done ({summary.uploaded} "
                f"uploaded, {summary.adopted} adopted, {summary.failed} failed), "
                f"{summary.done / elapsed:.1f} objects/s, "
                f"{summary.bytes / 1e6 / elapsed:.2f} MB/s\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
