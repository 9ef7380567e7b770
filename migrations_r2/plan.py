"""``--dry-run``: what a run would do, without writing anything anywhere.

Reads the selected rows and stats their files; the only request sent is
one read-only HeadBucket, to check the bucket answers and to base the time
estimate on a real round trip. No object (not even the If-None-Match probe)
and no row is written.
"""

import os
import time
from dataclasses import dataclass, field

from r2_toolkit.core.errors import describe
from r2_toolkit.core.keys import join_location, storage_name
from r2_toolkit.migrations_r2 import selection
from r2_toolkit.migrations_r2.bucket import open_bucket
from r2_toolkit.migrations_r2.engine import BackfillError, prepare
from r2_toolkit.migrations_r2.paths import UnsafePath, resolve_inside

EXAMPLES = 3
ASSUMED_MB_PER_SECOND = 50.0  # a conservative upload bandwidth for the estimate


@dataclass
class Plan:
    rows: int = 0
    bytes: int = 0
    missing: int = 0
    refused: int = 0
    round_trip: float = 0.0
    workers: int = 1
    examples: list = field(default_factory=list)

    @property
    def estimated_seconds(self):
        uploads = self.rows - self.missing - self.refused
        requests = uploads * max(self.round_trip, 0.001) / self.workers
        return requests + self.bytes / 1e6 / ASSUMED_MB_PER_SECOND

    def text(self):
        lines = [
            "dry run: nothing was uploaded and no row was changed",
            f"rows selected: {self.rows}",
            f"bytes to upload: {self.bytes} ({self.bytes / 1e6:.1f} MB)",
            f"missing files: {self.missing}",
            f"refused paths (outside MEDIA_ROOT): {self.refused}",
            f"estimated time: {self.estimated_seconds:.0f}s with {self.workers} workers "
            f"(bucket round trip {self.round_trip * 1000:.0f} ms)",
        ]
        lines += [f"  e.g. {name} -> {key}" for name, key in self.examples]
        return "\n".join(lines)


def measure_round_trip(bucket):
    started = time.monotonic()
    try:
        bucket.client.head_bucket(Bucket=bucket.name)
    except Exception as exc:
        raise BackfillError(f"cannot reach the bucket: {describe(exc)}") from None
    return time.monotonic() - started


def plan_backfill(options, *, model=None):
    target, root = prepare(model)
    plan = Plan(workers=options.workers)
    bucket = None
    for rows, _ in selection.pages(
        target, target.legacy(), options.batch_size, limit=options.limit, shard=options.shard
    ):
        for row in rows:
            plan.rows += 1
            try:
                path = resolve_inside(root, row.name)
            except UnsafePath:
                plan.refused += 1
                continue
            if not os.path.isfile(path):
                plan.missing += 1
                continue
            plan.bytes += os.path.getsize(path)
            if len(plan.examples) < EXAMPLES and row.username is not None:
                if bucket is None:
                    bucket = open_bucket(options.workers)
                name = storage_name(row.name, row.username, bucket.location)
                plan.examples.append((row.name, join_location(bucket.location, name)))
    if bucket is not None:
        plan.round_trip = measure_round_trip(bucket)
    return plan
