"""``--dry-run``: what a run would do, without writing anything anywhere.

Reads the selected rows and stats their files; the only requests sent are
read-only: one HeadBucket, to check the bucket answers and to base the time
estimate on a real round trip, and in field mode the bucket's listing (what
is already there). No object (not even the If-None-Match probe) and no row
is written.
"""

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from r2_toolkit.core.errors import describe
from r2_toolkit.migrations_r2 import selection
from r2_toolkit.migrations_r2.bucket import Bucket, open_bucket
from r2_toolkit.migrations_r2.engine import (
    BackfillError,
    Options,
    is_record_mode,
    open_mode,
    prepare,
)
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside
from r2_toolkit.migrations_r2.records import RecordMode
from r2_toolkit.migrations_r2.transfer import Settled, connect

if TYPE_CHECKING:  # field_mode loads when a run needs it
    from r2_toolkit.migrations_r2.field_mode import FieldMode

EXAMPLES = 3
ASSUMED_MB_PER_SECOND = 50.0  # a conservative upload bandwidth for the estimate


@dataclass
class Plan:
    rows: int = 0
    done: int = 0  # field mode: names whose object is already in the bucket
    bytes: int = 0
    missing: int = 0
    refused: int = 0
    round_trip: float = 0.0
    workers: int = 1
    examples: list[tuple[str, str]] = field(default_factory=list)  # (file name, key)

    @property
    def estimated_seconds(self) -> float:
        uploads = self.rows - self.missing - self.refused
        requests = uploads * max(self.round_trip, 0.001) / self.workers
        return requests + self.bytes / 1e6 / ASSUMED_MB_PER_SECOND

    def text(self) -> str:
        lines = [
            "dry run: nothing was uploaded and no row was changed",
            f"rows selected: {self.rows}",
            *([f"already in the bucket: {self.done}"] if self.done else []),
            f"bytes to upload: {self.bytes} ({self.bytes / 1e6:.1f} MB)",
            f"missing files: {self.missing}",
            f"refused paths (outside the source directory): {self.refused}",
            f"estimated time: {self.estimated_seconds:.0f}s with {self.workers} workers "
            f"(bucket round trip {self.round_trip * 1000:.0f} ms)",
        ]
        lines += [f"  e.g. {name} -> {key}" for name, key in self.examples]
        return "\n".join(lines)


def measure_round_trip(bucket: Bucket) -> float:
    started = time.monotonic()
    try:
        bucket.client.head_bucket(Bucket=bucket.name)
    except Exception as exc:
        raise BackfillError(f"cannot reach the bucket: {describe(exc)}") from None
    return time.monotonic() - started


def stat_file(plan: Plan, root: Path, name: str, directories: dict[str, str] | None = None) -> bool:
    """Count ``name``'s file in ``plan``; whether it is there to upload."""
    try:
        path = resolve_inside(root, name, directories)
    except UnsafePath:
        plan.refused += 1
        return False
    if not os.path.isfile(path):
        plan.missing += 1
        return False
    plan.bytes += os.path.getsize(path)
    return True


class BucketOnly:
    """What the field mode's listing asks of a run's transfers: the bucket,
    connected on first use; no uploader, no workers."""

    def __init__(self, workers: int, alias: str | None) -> None:
        self.workers, self.alias = workers, alias
        self.bucket: Bucket | None = None

    def open(self) -> Bucket:
        if self.bucket is None:
            self.bucket = connect(self.workers, self.alias)[0]
        return self.bucket


def plan_fields(options: Options) -> Plan:
    """The dry run of field mode: the rows to do, after the bucket's listing."""
    mode = cast("FieldMode", open_mode(options))  # plan_backfill: not the record mode
    workers = options.workers
    plan = Plan(workers=workers)
    transfers = BucketOnly(workers, mode.alias)

    def settled(row: Settled) -> None:
        plan.rows += 1
        plan.done += row.status == "skipped"
        plan.refused += row.status == "failed"

    for row in mode.rows(settled, transfers):
        plan.rows += 1
        if not row.upload:
            continue  # only its width/height to fill
        if stat_file(plan, mode.root, row.name) and len(plan.examples) < EXAMPLES:
            plan.examples.append((row.name, row.key))
    if transfers.bucket is not None:
        plan.round_trip = measure_round_trip(transfers.bucket)
    return plan


def plan_backfill(options: Options, *, model: Any = None) -> Plan:
    if not is_record_mode(model):
        return plan_fields(options)
    target, root = prepare(model, source=options.source)
    mode = RecordMode(target, root, options)
    workers = options.workers
    plan = Plan(workers=workers)
    bucket: Bucket | None = None
    for rows, _ in selection.pages(
        target,
        target.legacy(),
        options.batch_size,
        limit=options.limit,
        shard=options.shard,
    ):
        for row in rows:
            plan.rows += 1
            if not stat_file(plan, root, row.name):
                continue
            if len(plan.examples) < EXAMPLES:
                if bucket is None:
                    bucket = open_bucket(workers)
                key = mode.key_of(row, bucket)[1]
                if key is not None:
                    plan.examples.append((row.name, key))
    if bucket is not None:
        plan.round_trip = measure_round_trip(bucket)
    return plan
