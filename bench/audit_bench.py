"""``r2_audit`` against a HEAD per row (what ``r2_backfill --verify`` sent
before it listed) and against the bare listing (``aws s3 ls --recursive``)
of the same bucket, through the test proxy adding 50 ms per request (a real
R2 round trip).

The data set: N objects PUT straight into a moto bucket from many threads,
and N migrated rows (bulk_create, exactly what r2_backfill writes) in a
SQLite file. Figures: wall time, peak RSS, S3 requests (counted by the
proxy) and SQL statements; then peak memory of r2_audit at N and at
``--scale-objects`` objects and rows (memory must stay flat).

    .venv/bin/python bench/audit_bench.py [--objects 20000] [--latency 0.05]
        [--workers 16] [--scale-objects 200000] [--quick]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")

from bench import peers  # noqa: E402
from bench.common import print_table, ratio, run_measured  # noqa: E402
from tests.support.audit import put_objects  # noqa: E402
from tests.support.netproxy import Proxy  # noqa: E402
from tests.support.servers import manage_env, start_moto  # noqa: E402

PYTHON = sys.executable
MANAGE = ROOT / "manage.py"
RUN_TIMEOUT = 1800
BATCH = 200  # BACKFILL_BATCH_SIZE's default: rows per fetch

SEED_ROWS = """
import os
import django
django.setup()
from django.contrib.auth.models import User
from gallery.models import UserImage
from r2_toolkit.migrations_r2.bucket import open_bucket
from tests.support.audit import migrated_rows
count = int(os.environ["ROWS"])
owner = User.objects.create(username="bench")
url = open_bucket(1).public_url
for start in range(0, count, 10_000):
    keys = [f"users/bench/images/{i:07d}.jpg" for i in range(start, min(start + 10_000, count))]
    UserImage.objects.bulk_create(migrated_rows(owner, keys, url), batch_size=1000)
"""

# A command with Django's CaptureQueriesContext around it, so the measured
# run also counts its SQL statements (the ORM runs on the main thread only).
COUNTED = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
code = 0
with CaptureQueriesContext(connection) as queries:
    try:
        call_command(*sys.argv[1:])
    except SystemExit as exit:
        code = exit.code or 0
print("STATEMENTS", len(queries.captured_queries))
sys.exit(code)
"""

# ``r2_backfill --verify`` as it was before it listed: every migrated row's
# object HEADed from a thread pool, rows read in keyset pages.
HEAD_PER_ROW = """
import os
from concurrent.futures import ThreadPoolExecutor
import django
django.setup()
from gallery.models import UserImage
from r2_toolkit.migrations_r2.bucket import open_bucket
workers = int(os.environ["WORKERS"])
bucket = open_bucket(workers)
def head(key):
    return bucket.client.head_object(Bucket=bucket.name, Key=key)["ContentLength"]
rows = UserImage.objects.filter(storage_key__isnull=False).order_by("pk")
checked = 0
with ThreadPoolExecutor(workers) as pool:
    last = None
    while True:
        page = rows if last is None else rows.filter(pk__gt=last)
        page = list(page.values_list("pk", "storage_key", "size_bytes")[:200])
        if not page:
            break
        last = page[-1][0]
        sizes = pool.map(head, [key for _, key, _ in page])
        checked += sum(size == row[2] for size, row in zip(sizes, page))
print("CHECKED", checked)
"""


def figure(output, name):
    for line in output.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return None


class Bench:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.server = start_moto()
        self.client = self.server.client()
        self.proxy = Proxy(self.server.endpoint_url, latency=args.latency).start()

    def close(self):
        self.proxy.close()
        self.server.stop()

    def dataset(self, count):
        """A bucket with ``count`` objects and a database with their rows."""
        bucket = f"audit-bench-{count}"
        self.client.create_bucket(Bucket=bucket)
        started = time.perf_counter()
        keys = [f"users/bench/images/{i:07d}.jpg" for i in range(count)]
        put_objects(self.client, bucket, keys, threads=10)
        directory = self.workdir / str(count)
        directory.mkdir()
        env = self.env(bucket, directory)
        for cmd in ([PYTHON, MANAGE, "migrate", "-v0"], [PYTHON, "-c", SEED_ROWS]):
            result = run_measured(cmd, env={**env, "ROWS": str(count)}, cwd=ROOT)
            if not result.ok:
                raise SystemExit(f"setting up {count} rows failed:\n{result.tail()}")
        print(f"data set: {count} objects and rows in {time.perf_counter() - started:.0f}s")
        return bucket, env

    def env(self, bucket, directory):
        env = manage_env(
            self.server,
            bucket,
            directory,
            AWS_S3_ENDPOINT_URL=self.proxy.url,
            DJANGO_DEBUG="false",
        )
        env["WORKERS"] = str(self.args.workers)
        return env

    def measure(self, label, cmd, env):
        self.proxy.reset_counts()
        measured = run_measured(cmd, env=env, cwd=ROOT, timeout=RUN_TIMEOUT)
        measured.requests = sum(self.proxy.counts.values())
        measured.label = label
        if not measured.ok:
            print(f"{label} exited {measured.returncode}:\n{measured.tail()}")
        return measured

    def audit(self, env):
        cmd = [PYTHON, "-c", COUNTED, "r2_audit", "--format", "json"]
        return self.measure("r2_audit", cmd, env)

    def head_per_row(self, env):
        return self.measure("HEAD per row (old --verify)", [PYTHON, "-c", HEAD_PER_ROW], env)

    def aws_ls(self, bucket, env):
        config = self.workdir / "aws-config"
        config.write_text("[default]\nregion = us-east-1\n")
        aws_env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.server.access_key,
            "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "no-credentials"),
        }
        cmd = [
            peers.locate("aws"),
            "s3",
            "ls",
            "--recursive",
            "--endpoint-url",
            self.proxy.url,
            f"s3://{bucket}/",
        ]
        return self.measure("aws s3 ls --recursive", cmd, aws_env)


def row_of(measured, reference=None):
    return [
        measured.label,
        f"{measured.seconds:.2f}",
        str(measured.requests),
        f"{measured.peak_mb:.0f}",
        ratio(measured.seconds, reference.seconds) if reference else "1.00x",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.050)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--scale-objects",
        type=int,
        default=0,
        help="also measure r2_audit's peak memory at this many objects and rows "
        "(200000: about 10 more minutes on 2 cores)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 objects: a smoke test")
    args, _ = parser.parse_known_args()  # make bench passes every script its arguments
    if args.quick:
        args.objects, args.scale_objects = min(args.objects, 2_000), 0
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as workdir:
        bench = Bench(args, Path(workdir))
        try:
            return run(bench, args)
        finally:
            bench.close()


def run(bench, args):
    count = args.objects
    bucket, env = bench.dataset(count)
    audit = bench.audit(env)
    heads = bench.head_per_row(env)
    try:
        listing = bench.aws_ls(bucket, env)
    except peers.Unavailable as reason:
        listing = None
        print(f"aws cli unavailable: {reason}")
    print(
        f"\n{count} objects and migrated rows, +{args.latency * 1000:.0f} ms per request, "
        f"{args.workers} threads for the HEADs (contended unless the machine is quiet):"
    )
    rows = [row_of(audit, listing), row_of(heads, listing)]
    if listing is not None:
        rows.append(row_of(listing))
    print_table(["", "seconds", "requests", "peak MB", "vs aws s3 ls"], rows)
    statements = figure(audit.output, "STATEMENTS")
    bound = count / 1000 + count / BATCH + 10
    print(
        f"r2_audit: {ratio(heads.seconds, audit.seconds)} faster than a HEAD per row "
        f"(target >= 20x); {ratio(audit.seconds, listing.seconds) if listing else 'n/a'} "
        f"the bare listing's time (target <= 1.2x)"
    )
    print(
        f"r2_audit requests: {audit.requests} S3 + {statements} SQL statements; "
        f"bound objects/1000 + rows/{BATCH} + 10 = {bound:.0f}"
    )
    status = 0 if audit.ok and heads.ok else 1
    if args.scale_objects:
        big_bucket, big_env = bench.dataset(args.scale_objects)
        big = bench.audit(big_env)
        print(
            f"\nr2_audit peak memory: {audit.peak_mb:.0f} MB at {count} objects, "
            f"{big.peak_mb:.0f} MB at {args.scale_objects} "
            f"({ratio(big.peak_mb, audit.peak_mb)}, target <= 1.25x); "
            f"{big.seconds:.1f}s, {big.requests} requests\n"
        )
        status |= 0 if big.ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
