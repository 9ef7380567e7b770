"""``r2_backfill`` against the general-purpose uploaders: s5cmd, the aws cli
and rclone, uploading the same legacy images to the same kind of S3 server at
the same concurrency.

Each run gets a fresh moto server and bucket (and, for r2_backfill, a fresh
copy of a database whose rows point at the files), on plain loopback and
behind the test proxy adding 50 ms per request (a real R2 round trip). After
every run the bucket must hold exactly the expected keys, or the run counts as
failed. Then the backfill's own figures: DB statements per run, a re-run over
fully migrated rows, and (with --scale-rows 20000) peak memory at 2,000 vs
20,000 rows of tiny files.

    .venv/bin/python bench/backfill_bench.py [--files 2000] [--workers 16]
        [--latency 0.05] [--scale-rows 20000] [--quick]
"""

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")

from bench import peers  # noqa: E402
from bench.common import (  # noqa: E402
    MB,
    pin_process,
    print_table,
    process_cpu_seconds,
    ratio,
    run_measured,
)
from tests.support.netproxy import Proxy  # noqa: E402
from tests.support.servers import manage_env, start_moto  # noqa: E402

USERS = ("alice", "bob", "carol")
PYTHON = sys.executable
MANAGE = ROOT / "manage.py"
RUN_TIMEOUT = 900


# --- the data set: real images on disk and a database whose rows point at them


def image_for(index, size_range):
    """(legacy name, bytes): JPEG and PNG alternating, sizes spread over the range."""
    from gallery.legacy import image_bytes

    rng = random.Random(index)
    fmt, ext = ("JPEG", "jpg") if index % 2 == 0 else ("PNG", "png")
    target = rng.randint(*size_range)
    if size_range[1] <= 5_000:  # tiny files: a small image, no noise
        data = image_bytes(64, 48, fmt=fmt, seed=index)
    else:
        # Random pixels compress to about 0.42 bytes each in JPEG q95 and
        # 1.0 in PNG: pick the noise so the file lands near the target.
        noise = int(target / 0.42) if fmt == "JPEG" else target
        data = image_bytes(640, 480, fmt=fmt, seed=index, noise=noise)
    return f"users/{USERS[index % len(USERS)]}/images/bench-{index:06d}.{ext}", data


def build_dataset(directory, count, size_range):
    """Files under ``directory/media`` and a migrated SQLite template with one
    legacy row per file; cached, since generating them is not what we measure."""
    marker = directory / "complete"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        media = directory / "media"
        names, total = [], 0
        for index in range(count):
            name, data = image_for(index, size_range)
            path = media / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            names.append(name)
            total += len(data)
        create_rows(directory / "template.sqlite3", names)
        marker.write_text(f"{count} {total}")
    count, total = map(int, marker.read_text().split())
    return directory / "media", directory / "template.sqlite3", count, total


def create_rows(database, names):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    result = run_measured([PYTHON, MANAGE, "migrate", "-v0"], env=env, cwd=ROOT)
    if not result.ok:
        raise SystemExit(f"migrate failed:\n{result.tail()}")
    listing = database.with_suffix(".names")
    listing.write_text("\n".join(names))
    script = (
        "import django, os\n"
        "django.setup()\n"
        "from django.contrib.auth.models import User\n"
        "from gallery.models import UserImage\n"
        "owners = {name: User.objects.get_or_create(username=name)[0] for name in os.environ['USERS'].split()}\n"
        "rows = [UserImage(user=owners[name.split('/')[1]], image=name, caption='bench')\n"
        "        for name in open(os.environ['NAMES']).read().split()]\n"
        "UserImage.objects.bulk_create(rows, batch_size=1000)\n"
    )
    result = run_measured(
        [PYTHON, "-c", script],
        cwd=ROOT,
        env={**env, "NAMES": str(listing), "USERS": " ".join(USERS)},
    )
    if not result.ok:
        raise SystemExit(f"creating rows failed:\n{result.tail()}")


# --- one upload run per tool, against a fresh server


@dataclass(frozen=True)
class Condition:
    label: str
    latency: float  # seconds the proxy adds per request; 0: no proxy
    server_cpus: frozenset = frozenset()  # empty: the server shares every CPU
    tool_cpus: frozenset = frozenset()
    workers: int | None = None  # None: --workers
    tools: tuple | None = None  # None: every tool asked for
    r2_endpoint: bool = False  # the backfill addresses the proxy as R2 (bench/r2_like_settings.py)


# The R2-like condition: moto refuses a conditional PUT of an existing key
# with 412 as R2 does, the proxy adds R2's round trip to every request, the
# backfill addresses it as an R2 endpoint (so it behaves as against R2), and
# s5cmd runs beside the backfill at the same workers and at its own default.
R2_LIKE_WORKERS = (32, 128)
R2_LIKE_TOOLS = ("r2_backfill", "s5cmd")


def conditions_for(args):
    """Plain loopback; +latency with every CPU shared; and +latency with the
    server and the proxy on one CPU and the tool on the others, as when the
    server is R2 and its CPU is not the client's (where the machine has two)."""
    shared = [
        Condition("loopback", 0.0),
        Condition(f"+{args.latency * 1000:.0f} ms/request", args.latency),
    ]
    cpus = sorted(os.sched_getaffinity(0))
    isolated = [
        Condition(
            f"+{args.latency * 1000:.0f} ms, server apart",
            args.latency,
            frozenset(cpus[:1]),
            frozenset(cpus[1:]),
        )
    ]
    if len(cpus) < 2:
        isolated = []  # one CPU: nothing to keep apart
    r2_like = [
        Condition(
            f"R2-like, {workers} workers",
            args.latency,
            workers=workers,
            r2_endpoint=True,
            tools=R2_LIKE_TOOLS + (("s5cmd, own default",) if index == 0 else ()),
        )
        for index, workers in enumerate(R2_LIKE_WORKERS)
    ]
    return {
        "all": shared + isolated + r2_like,
        "r2": r2_like,
        "both": shared,
        "loopback": shared[:1],
        "latency": shared[1:],
        "apart": isolated,
    }[args.conditions]


@contextlib.contextmanager
def fresh_target(condition):
    """A new moto server with an empty bucket; yields (server, endpoint, proxy)."""
    server = start_moto()
    try:
        bucket = "backfill-bench"
        server.client().create_bucket(Bucket=bucket)
        server.bucket = bucket
        if condition.server_cpus:
            pin_process(server.process.pid, condition.server_cpus)
        if condition.latency:
            with proxy_on(server, condition) as proxy:
                yield server, proxy.url, proxy
        else:
            yield server, server.endpoint_url, None
    finally:
        server.stop()


@contextlib.contextmanager
def proxy_on(server, condition):
    """The latency proxy. Its threads inherit the affinity of the thread that
    starts them, so it is started while this thread is on the server's CPUs."""
    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, condition.server_cpus or everywhere)
    try:
        proxy = Proxy(server.endpoint_url, latency=condition.latency).start()
    finally:
        os.sched_setaffinity(0, everywhere)
    try:
        yield proxy
    finally:
        proxy.close()


def bucket_keys(server):
    keys = set()
    for page in server.client().get_paginator("list_objects_v2").paginate(Bucket=server.bucket):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def credentials_env(server, **extra):
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def backfill_env(server, endpoint, workdir, media, database):
    env = manage_env(
        server,
        server.bucket,
        workdir,
        MEDIA_ROOT=str(media),
        DATABASE_URL=f"sqlite:///{database}",
        AWS_S3_ENDPOINT_URL=endpoint,
    )
    env.pop("DJANGO_DEBUG", None)  # DEBUG's query log would skew memory
    env["DJANGO_DEBUG"] = "false"
    return env


def fresh_database(template, workdir):
    database = workdir / "db.sqlite3"
    shutil.copyfile(template, database)
    return database


# ``manage.py r2_backfill`` as an operator runs it (execute_from_command_line,
# so the command-line path), counting its SQL statements through an execute
# wrapper (the ORM runs on the main thread only): cheaper to load than
# django.test's CaptureQueriesContext, whose imports the timed run would pay.
COUNTED_BACKFILL = """
import sys
import django
django.setup()
from django.core.management import execute_from_command_line
from django.db import connection
statements = 0
def counted(execute, sql, params, many, context):
    global statements
    statements += 1
    return execute(sql, params, many, context)
code = 0
with connection.execute_wrapper(counted):
    try:
        execute_from_command_line(["manage.py", "r2_backfill", *sys.argv[1:]])
    except SystemExit as exit:
        code = exit.code or 0
print("STATEMENTS", statements)
sys.exit(code)
"""


def run_r2_backfill(server, endpoint, ctx):
    database = fresh_database(ctx.template, ctx.workdir)
    env = backfill_env(server, endpoint, ctx.workdir, ctx.media, database)
    if ctx.r2_endpoint:
        env.update(DJANGO_SETTINGS_MODULE="bench.r2_like_settings", R2_BENCH_PROXY=endpoint)
    ctx.last_backfill = (env, database)
    measured = run_measured(
        [PYTHON, "-c", COUNTED_BACKFILL, "--workers", ctx.workers],
        env=env,
        cwd=ROOT,
        timeout=RUN_TIMEOUT,
        cpus=ctx.cpus,
    )
    for line in measured.output.splitlines():
        if line.startswith("STATEMENTS "):
            ctx.statements = int(line.split()[1])
    return measured


def run_s5cmd(server, endpoint, ctx, own_default=False):
    workers = [] if own_default else ["--numworkers", ctx.workers]
    return run_measured(
        [
            peers.locate("s5cmd"),
            "--endpoint-url",
            endpoint,
            *workers,
            "--log",
            "error",
            "cp",
            f"{ctx.media}/*",
            f"s3://{server.bucket}/",
        ],
        env=credentials_env(server),
        timeout=RUN_TIMEOUT,
        cpus=ctx.cpus,
    )


def run_aws(server, endpoint, ctx):
    # An isolated config file: the operator's own ~/.aws must not leak in.
    config = ctx.workdir / "aws-config"
    config.write_text(
        f"[default]\nregion = us-east-1\ns3 =\n    max_concurrent_requests = {ctx.workers}\n"
    )
    env = credentials_env(
        server,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(ctx.workdir / "no-credentials"),
    )
    return run_measured(
        [
            peers.locate("aws"),
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
            "--endpoint-url",
            endpoint,
            ctx.media,
            f"s3://{server.bucket}/",
        ],
        env=env,
        timeout=RUN_TIMEOUT,
        cpus=ctx.cpus,
    )


def run_rclone(server, endpoint, ctx):
    # rclone's AWS SDK fails on any AWS_CA_BUNDLE with its own HTTP transport
    # ("LoadCustomCABundleError"); the endpoint is plain http anyway.
    inherited = {name: value for name, value in os.environ.items() if name != "AWS_CA_BUNDLE"}
    env = {
        **inherited,
        "RCLONE_CONFIG": str(ctx.workdir / "no-rclone.conf"),
        "RCLONE_CONFIG_BENCH_TYPE": "s3",
        "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
        "RCLONE_CONFIG_BENCH_ENDPOINT": endpoint,
        "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": server.access_key,
        "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": server.secret_key,
        "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
        "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
    }
    return run_measured(
        [
            peers.locate("rclone"),
            "copy",
            ctx.media,
            f"bench:{server.bucket}",
            "--transfers",
            ctx.workers,
            "--checkers",
            ctx.workers,
            "--s3-no-check-bucket",
            "-q",
        ],
        env=env,
        timeout=RUN_TIMEOUT,
        cpus=ctx.cpus,
    )


TOOLS = [
    ("r2_backfill", run_r2_backfill),
    ("s5cmd", run_s5cmd),
    ("aws cli", run_aws),
    ("rclone", run_rclone),
]


# Only where a condition names it: s5cmd at its own --numworkers default.
OWN_DEFAULT = [("s5cmd, own default", lambda *args: run_s5cmd(*args, own_default=True))]


def upload_matrix(ctx, conditions, tools=TOOLS + OWN_DEFAULT):
    """{(condition, tool): Measured or reason}, printed as one table."""
    expected = {str(path.relative_to(ctx.media)) for path in ctx.media.rglob("*") if path.is_file()}
    results, rows = {}, []
    spans = {}  # (condition, tool) -> seconds from the first request to the last answer
    for condition in conditions:
        label = condition.label
        ctx.cpus = condition.tool_cpus
        ctx.r2_endpoint = condition.r2_endpoint
        ctx.workers = str(condition.workers or ctx.base_workers)
        for tool, run in tools:
            if tool not in (condition.tools or ctx.tools) or tool.split(",")[0] not in ctx.tools:
                continue
            try:
                with fresh_target(condition) as (server, endpoint, proxy):
                    # On one machine the server and the proxy share the cores
                    # with the tool; their CPU per object shows who used them.
                    server_cpu = process_cpu_seconds(server.process.pid)
                    proxy_cpu = time.process_time()  # the proxy's threads live here
                    measured = run(server, endpoint, ctx)
                    proxy_cpu = time.process_time() - proxy_cpu if proxy else None
                    server_cpu = process_cpu_seconds(server.process.pid) - server_cpu
                    keys = bucket_keys(server)
                    requests = sum(proxy.counts.values()) if proxy else None
                    uploading = (
                        proxy and proxy.first_seen and proxy.last_answered - proxy.first_seen
                    )
                    spans[label, tool] = uploading
                    if tool == "r2_backfill" and ctx.rerun is None:  # once, the first condition
                        rerun_figures(ctx, server)
            except peers.Unavailable as reason:
                results[label, tool] = None
                rows.append([f"{label:20} {tool}", f"unavailable: {reason}"])
                continue
            missing = len(expected - keys)
            if not measured.ok or missing:
                results[label, tool] = None
                rows.append(
                    [
                        f"{label:20} {tool}",
                        f"FAILED (exit {measured.returncode}, "
                        f"{missing} objects missing): {measured.tail(3)}",
                    ]
                )
                continue
            results[label, tool] = measured
            rows.append(
                [
                    f"{label:20} {tool}",
                    f"{measured.seconds:.2f}",
                    "-" if not uploading else f"{uploading:.2f}",
                    f"{ctx.count / measured.seconds:.1f}",
                    f"{ctx.total / MB / measured.seconds:.1f}",
                    f"{measured.peak_mb:.0f}",
                    "-" if requests is None else f"{requests / ctx.count:.2f}",
                    f"{measured.cpu_seconds * 1000 / ctx.count:.1f}",
                    f"{server_cpu * 1000 / ctx.count:.1f}",
                    "-" if proxy_cpu is None else f"{proxy_cpu * 1000 / ctx.count:.1f}",
                ]
            )
    print(
        f"{ctx.count} files, {ctx.total / MB:.0f} MB, concurrency {ctx.base_workers} "
        "(R2-like rows: the workers they name; s5cmd's own default is 256)"
    )
    print("CPU ms/object: the tool's own, the S3 server's and the latency proxy's")
    print(
        "uploading: seconds from the first request to the last answer, as the proxy saw "
        "them (the rest of 'seconds' is the tool's start-up and exit)"
    )
    print_table(
        [
            "condition / tool",
            "seconds",
            "uploading",
            "objects/s",
            "MB/s",
            "peak MB",
            "req/object",
            "CPU tool",
            "server",
            "proxy",
        ],
        rows,
    )
    for label in (condition.label for condition in conditions):
        ours = results.get((label, "r2_backfill"))
        for peer in ("s5cmd", "s5cmd, own default", "aws cli", "rclone"):
            if (label, peer) not in results:
                continue
            theirs = results[label, peer]
            uploading = ""
            if ours and theirs and spans.get((label, peer)):
                uploading = (
                    f", while uploading: {ratio(spans[label, peer], spans[label, 'r2_backfill'])}"
                )
            print(
                f"{label:20} r2_backfill/{peer:8} objects/s: "
                f"{ratio(theirs and theirs.seconds, ours and ours.seconds)}{uploading}, "
                f"CPU per object: "
                f"{ratio(ours and ours.cpu_seconds, theirs and theirs.cpu_seconds)}"
            )
    print()
    return results


def rerun_figures(ctx, server):
    """Run the backfill again over the rows it just migrated, through a
    counting proxy: it must finish in seconds without touching the network."""
    env, database = ctx.last_backfill
    with Proxy(server.endpoint_url) as proxy:
        env = {**env, "AWS_S3_ENDPOINT_URL": proxy.url, "R2_BENCH_PROXY": proxy.url}
        measured = run_measured(
            [PYTHON, MANAGE, "r2_backfill", "--workers", ctx.workers],
            env=env,
            cwd=ROOT,
            timeout=RUN_TIMEOUT,
        )
        writes = sum(proxy.counts[method] for method in ("PUT", "POST", "DELETE"))
        ctx.rerun = (measured, sum(proxy.counts.values()), writes)


# --- the backfill's own figures


def batch_size():
    from r2_toolkit.core.conf import toolkit_settings

    return toolkit_settings.BACKFILL_BATCH_SIZE


def memory_scaling(args, base):
    """Peak memory of r2_backfill over tiny files at 2,000 and at N rows."""
    figures = []
    for rows in (2_000, args.scale_rows):
        media, template, count, total = build_dataset(base / f"tiny-{rows}", rows, (1_000, 2_000))
        ctx = Context(args, media, template, count, total, base / f"run-tiny-{rows}")
        with fresh_target(Condition("loopback", 0.0)) as (server, endpoint, _):
            measured = run_r2_backfill(server, endpoint, ctx)
        if not measured.ok:
            raise RuntimeError(f"r2_backfill over {rows} rows failed:\n{measured.tail()}")
        figures.append((rows, measured))
    return figures


class Context:
    def __init__(self, args, media, template, count, total, workdir):
        self.workers = self.base_workers = str(args.workers)
        self.tools = [name for name, _ in TOOLS]
        self.media, self.template, self.count, self.total = media, template, count, total
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.rerun = None
        self.statements = None
        self.cpus = None  # the CPUs the tool under measurement may use
        self.r2_endpoint = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.050)
    parser.add_argument(
        "--scale-rows",
        type=int,
        default=0,
        help="also compare peak memory over 2,000 and this many rows of tiny "
        "files (20000: about 4 more minutes on 2 cores)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(name for name, _ in TOOLS),
        help="comma-separated subset of the tools to run (default: all)",
    )
    parser.add_argument(
        "--conditions",
        choices=("all", "both", "loopback", "latency", "apart", "r2"),
        default="all",
        help="conditions to run: loopback, latency (+latency, CPUs shared), "
        "apart (+latency, the server on a CPU of its own), both (the first two), "
        "r2 (R2-like: +latency, the backfill and s5cmd at 32 and 128 workers); default all",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny files, 500 of them, no scaling run: a smoke test"
    )
    # make bench passes its own arguments to every script; ignore the others'.
    args, _ = parser.parse_known_args()
    if args.quick:
        args.files, args.scale_rows = min(args.files, 500), 0
    started = time.perf_counter()
    import django

    django.setup()  # gallery.legacy's image generator lives beside the models
    base = ROOT / "var" / "bench-backfill"
    sizes = (1_000, 2_000) if args.quick else (50_000, 300_000)
    media, template, count, total = build_dataset(
        base / f"{'tiny' if args.quick else 'images'}-{args.files}", args.files, sizes
    )
    workdir = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    try:
        ctx = Context(args, media, template, count, total, workdir)
        conditions = conditions_for(args)
        ctx.tools = [name for name, _ in TOOLS if name in args.tools.split(",")]
        upload_matrix(ctx, conditions)
        report_backfill_figures(args, ctx, base)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"total bench time {time.perf_counter() - started:.0f}s")


def report_backfill_figures(args, ctx, base):
    if ctx.rerun:
        measured, requests, writes = ctx.rerun
        print(
            f"re-run over {ctx.count} migrated rows: {measured.seconds:.2f}s, "
            f"{measured.cpu_seconds:.2f}s CPU (a run's fixed cost: Python, Django, "
            f"the selection), {requests} S3 requests ({writes} writes), "
            f"exit {measured.returncode}"
        )
    if ctx.statements is not None:
        size = batch_size()
        print(
            f"DB statements per run over {ctx.count} rows: {ctx.statements} "
            f"(rows / batch size = {ctx.count / size:.0f} at batch size {size})"
        )
    if args.scale_rows:
        (small, small_run), (large, large_run) = memory_scaling(args, base)
        print(
            f"r2_backfill peak memory, tiny files: {small} rows {small_run.peak_mb:.0f} MB, "
            f"{large} rows {large_run.peak_mb:.0f} MB "
            f"({large_run.peak_mb / small_run.peak_mb:.2f}x; "
            f"{large / large_run.seconds:.0f} objects/s)"
        )
    else:
        print(
            "r2_backfill peak memory at 2,000 vs 20,000 rows: skipped by default to keep "
            "the bench within minutes; run with --scale-rows 20000 (about 4 more minutes)"
        )


if __name__ == "__main__":
    main()
