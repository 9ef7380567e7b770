"""What the operator sees of an audit: the summary table (text), the JSON
document, one JSON line per finding (``--report``) and progress on stderr
(a tqdm bar on a terminal, a log line every few seconds otherwise)."""

import json
import time

from tqdm import tqdm

from r2_toolkit.migrations_r2.findings import FIXES, KINDS
from r2_toolkit.migrations_r2.report import LOG_EVERY_SECONDS

TEXT_FINDINGS = 20  # findings printed under the table; the report has all


class FindingsFile:
    """One JSON line per finding, written as they are found; a no-op without a path."""

    def __init__(self, path):
        self.stream = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, finding):
        if self.stream is not None:
            self.stream.write(json.dumps(finding.as_dict(), ensure_ascii=False) + "\n")

    def close(self):
        if self.stream is not None:
            self.stream.close()


class AuditProgress:
    """Objects listed, rows read and findings so far. ``update`` is called
    for every key merged, so it looks at the clock only every CHECK_EVERY calls."""

    CHECK_EVERY = 512

    def __init__(self, stream, interactive=None, clock=time.monotonic):
        self.stream, self.clock = stream, clock
        interactive = stream.isatty() if interactive is None else interactive
        self.bar = (
            tqdm(unit=" obj", desc="listed", file=stream, dynamic_ncols=True)
            if interactive
            else None
        )
        self.calls = 0
        self.last_log = clock()

    def update(self, objects, rows, found, force=False):
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

    def close(self):
        if self.bar is not None:
            self.bar.close()


def render_json(result):
    return json.dumps(result.document(), indent=2, ensure_ascii=False)


def render_text(result, report_path=None):
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


def outcome(result, report_path):
    lines = []
    orphans = result.counts["orphan_object"]
    if result.would_delete:
        lines.append(
            f"--delete-orphans would delete {orphans} objects (each one is in --report PATH); "
            "nothing was deleted: add --yes to delete them."
        )
    if result.deleting:
        lines.append(
            f"deleted {result.deleted} orphans; {result.delete_failed} could not be deleted"
        )
    if report_path:
        lines.append(f"every finding, one JSON line each: {report_path}")
    elif len(result.findings) < sum(result.counts.values()):
        lines.append("add --report PATH for every finding, one JSON line each")
    if result.interrupted:
        lines.append("interrupted: the figures above are partial; run r2_audit again for all")
    lines.append(
        "ok: nothing to act on" if result.ok else "findings: see docs/audit.md for each kind"
    )
    return lines
