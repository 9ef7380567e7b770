"""What the operator sees of an audit: the summary table (text), the JSON
document, one JSON line per finding (``--report``) and progress on stderr
(a tqdm bar on a terminal, a log line every few seconds otherwise)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from tqdm import tqdm

from r2_toolkit.core.links import doc_url
from r2_toolkit.migrations_r2.findings import FIXES, KINDS
from r2_toolkit.migrations_r2.report import LOG_EVERY_SECONDS

if TYPE_CHECKING:  # for the annotations only
    from r2_toolkit.migrations_r2.audit import AuditResult
    from r2_toolkit.migrations_r2.findings import Finding
    from r2_toolkit.migrations_r2.quarantine import Move, QuarantineResult

TEXT_FINDINGS = 20  # findings printed under the table; the report has all


class FindingsFile:
    """One JSON line per finding, written as they are found; a no-op without a path."""

    def __init__(self, path: str | None) -> None:
        self.stream: IO[str] | None = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, finding: Finding | Move) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(finding.as_dict(), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


class AuditProgress:
    """Objects listed, rows read and findings so far. ``update`` is called
    for every key merged, so it looks at the clock only every CHECK_EVERY calls."""

    CHECK_EVERY = 512

    def __init__(
        self,
        stream: IO[str],
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.clock = stream, clock
        interactive = stream.isatty() if interactive is None else interactive
        self.bar: Any = (  # a tqdm bar
            tqdm(unit=" obj", desc="listed", file=stream, dynamic_ncols=True)
            if interactive
            else None
        )
        self.calls = 0
        self.last_log = clock()

    def update(self, objects: int, rows: int, found: int, force: bool = False) -> None:
        self.calls += 1
        if self.calls % self.CHECK_EVERY and not force:
            return
        if self.bar is not None:
            self.bar.update(objects - self.bar.n)
            self.bar.set_postfix_str(f"{rows} rows, {found} findings", refresh=False)
        elif self.clock() - self.last_log >= LOG_EVERY_SECONDS:
            self.last_log = self.clock()
            self.stream.write(
                f"r2_audit: {objects} objects listed, {rows} rows, {found} findings\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def render_json(result: AuditResult) -> str:
    return json.dumps(result.document(), indent=2, ensure_ascii=False)


QUARANTINE_WORDS = {
    "restored": "moved back to its key",
    "conflict": "not restored: an object exists at its key (the copy stays in the quarantine)",
    "failed": "could not be moved",
    "not_found": "not in the quarantine",
    "purged": "deleted for good",
    "would_purge": "would be deleted for good",
}


def render_quarantine(result: QuarantineResult, report_path: str | None = None) -> str:
    """A restore's or purge's outcome: counts, then the first objects."""
    lines = [f"r2_audit: the quarantine of bucket {result.bucket!r}"]
    if not result.counts:
        lines.append("nothing to " + ("restore" if result.mode == "restore" else "purge"))
    for action, words in QUARANTINE_WORDS.items():
        if result.counts.get(action):
            lines.append(f"{result.counts[action]:>7} {words}")
    shown = result.moves[:TEXT_FINDINGS]
    if shown:
        lines += ["", f"objects (the first {len(shown)}):"]
        lines += [
            f"  {m.action}: {m.key}"
            + (f" <- {m.quarantine_key}" if m.quarantine_key else "")
            + (f": {m.message}" if m.message else "")
            for m in shown
        ]
    if result.counts.get("would_purge"):
        lines.append("nothing was deleted: add --yes to delete them for good.")
    if report_path:
        lines.append(f"every object, one JSON line each: {report_path}")
    lines.append("ok" if result.ok else "not everything was done: see the lines above")
    return "\n".join(lines)


def render_text(result: AuditResult, report_path: str | None = None) -> str:
    location = f"location {result.location!r}" if result.location else "the whole bucket"
    lines = [
        f"r2_audit: bucket {result.bucket!r} (storage {result.alias!r}, {location})",
        f"{result.rows} rows, {result.objects} objects, {result.requests} requests "
        f"in {result.elapsed:.1f}s",
        "",
    ]
    width = max(len(kind) for kind in KINDS)
    lines.append(f"{'finding'.ljust(width)}  {'count':>7}  what to do")
    for kind in KINDS:
        count = result.counts[kind]
        lines.append(f"{kind.ljust(width)}  {count:>7}  {FIXES[kind] if count else ''}".rstrip())
    if result.within_grace:
        lines.append(
            f"{result.within_grace} unreferenced objects are younger than --grace and were "
            "left out (uploads in progress, most likely)"
        )
    shown = result.findings[:TEXT_FINDINGS]
    if shown:
        total = sum(result.counts.values())
        lines += ["", f"findings (the first {len(shown)} of {total}):"]
        for finding in shown:
            who = f"row {finding.id}" if finding.id is not None else "object"
            key = f" {finding.storage_key}" if finding.storage_key else ""
            lines.append(f"  {finding.kind}: {who}{key}: {finding.message}")
    lines.append("")
    lines += outcome(result, report_path)
    return "\n".join(lines)


def outcome(result: AuditResult, report_path: str | None) -> list[str]:
    lines: list[str] = []
    orphans = result.counts["orphan_object"]
    if result.would_move:
        lines.append(
            f"--delete-orphans would move {orphans} objects to the quarantine (each one is in "
            "--report PATH); nothing was moved: add --yes to move them."
        )
    if result.moving:
        lines.append(
            f"moved {result.quarantined} orphans to the quarantine under "
            f"{result.quarantine_prefix!r}; {result.quarantine_failed} could not be moved"
        )
        if result.quarantined:
            lines.append(
                "undo: r2_audit --restore KEY (or --restore-all); "
                "delete for good: r2_audit --purge-quarantine --older-than DAYS --yes"
            )
    if report_path:
        lines.append(f"every finding, one JSON line each: {report_path}")
    elif len(result.findings) < sum(result.counts.values()):
        lines.append("add --report PATH for every finding, one JSON line each")
    if result.interrupted:
        lines.append("interrupted: the figures above are partial; run r2_audit again for all")
    lines.append(
        "ok: nothing to act on"
        if result.ok
        else f"findings: see {doc_url('audit.md')} for each kind"
    )
    return lines
