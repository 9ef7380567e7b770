"""/livez, /healthz, /readyz and /metrics under load, beside the framework's
ceiling and django-health-check.

Two gunicorns, each with 2 sync workers:

- the product (``bench.hc_settings``: the reference settings, so
  HealthCheckMiddleware first, the product's URLs, the peer's storage view and
  a no-op view behind the whole middleware stack) in front of a local S3
  emulator, with a counting proxy between them so every request the bucket
  receives is seen;
- a minimal Django site (``bench.minimal_settings``: no apps, two
  middlewares, one view returning constant JSON), the most a Django health
  view can do on this stack.

Each URL gets 32 concurrent connections for 10 s (wrk when it is installed,
``make bench`` installs it where it can; a Python load generator otherwise).

Targets: /livez at >= 0.95x the minimal site's requests/s; /healthz and
/readyz at >= 0.9x, p99 at most 1.5x the minimal site's, and at most
(duration / TTL + 1) bucket requests per worker; a /metrics scrape at most
2 ms of server CPU (the workers' user + system time over the run, from
/proc, divided by the requests served) and no more bucket requests than that.

    .venv/bin/python bench/health_bench.py [--duration 10] [--connections 32]
"""

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery import emulator  # noqa: E402
from gallery.serve import Gunicorn  # noqa: E402
from tests.support.endpoints import gunicorn_env  # noqa: E402
from tests.support.netproxy import Proxy  # noqa: E402
from tests.support.servers import start_moto  # noqa: E402

WORKERS = 2
HEALTH_TTL = 5.0  # the toolkit's default
MINIMAL = "minimal Django site"
# The minimal site runs before and after /healthz and the ratios use their
# mean: on a shared machine the load drifts, and bracketing keeps it out.
TARGETS = [
    (MINIMAL, "minimal", "/healthz"),
    ("/livez", "product", "/livez"),
    ("/healthz", "product", "/healthz"),
    ("/readyz", "product", "/readyz"),
    ("/metrics", "product", "/metrics"),
    (f"{MINIMAL} (again)", "minimal", "/healthz"),
    ("no-op view, full middleware", "product", "/noop/"),
    ("django-health-check storage", "product", "/peer/health/"),
]
TOKEN = "endpoint-test-token"  # tests.support.endpoints.gunicorn_env's
RATE_TARGET, LIVE_TARGET, P99_TARGET, CPU_TARGET_MS = 0.9, 0.95, 1.5, 2.0
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url, duration, connections, headers=None):
    """(requests/s, p50 ms, p99 ms, non-2xx or errors) from wrk."""
    extra = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            "-H",
            "Accept: application/json",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(percent):
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * WRK_UNITS[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return (
        rate,
        latency(50),
        latency(99),
        int(bad.group(1) if bad else 0) + int(errors.group(1) if errors else 0),
    )


def python_load(url, duration, connections, headers=None):
    """The same measurement without wrk: threads, one request per connection
    (gunicorn's sync workers close the connection after each response)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    latencies, failures, lock = [], [0], threading.Lock()
    stop_at = time.monotonic() + duration

    def run():
        mine, bad = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("GET", path, headers={"Accept": "application/json", **(headers or {})})
                status = conn.getresponse().status
                conn.close()
                bad += status >= 300
            except OSError:  # a timeout: an error, not a completed request (as wrk counts)
                bad += 1
                continue
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(latencies) < 2:
        return len(latencies) / duration, 0.0, 0.0, failures[0]
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / duration, cuts[49], cuts[98], failures[0]


def worker_cpu_seconds(master_pid):
    """User + system CPU seconds of gunicorn's worker processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args()
    load = wrk if args.generator == "wrk" else python_load
    print(
        f"load generator: {'wrk' if load is wrk else 'python threads (wrk not installed)'}; "
        f"gunicorn {WORKERS} sync workers; {args.connections} connections x {args.duration}s; "
        f"HEALTH_TTL {HEALTH_TTL:g}s"
    )

    server = start_moto()
    bucket = "health-bench"
    emulator.provision(server.client(), bucket, public=False, cors=False)
    workdir = Path(tempfile.mkdtemp(prefix="health-bench-"))
    figures = {}
    try:
        with Proxy(server.endpoint_url) as proxy:
            env = gunicorn_env(
                proxy.url,
                bucket,
                workdir,
                DJANGO_SETTINGS_MODULE="bench.hc_settings",
                DJANGO_DEBUG="false",
            )
            minimal_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.minimal_settings"}
            with (
                Gunicorn(emulator.free_port(), env, workers=WORKERS) as product,
                Gunicorn(emulator.free_port(), minimal_env, workers=WORKERS) as minimal,
            ):
                sites = {"product": product, "minimal": minimal}
                print(
                    f"\n{'target':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
                    f"{'errors':>7} {'bucket reqs':>11} {'CPU ms/req':>11}"
                )
                for label, site, path in TARGETS:
                    url = sites[site].url + path
                    headers = {"Authorization": f"Bearer {TOKEN}"} if path == "/metrics" else {}
                    # Warm up every worker: imports, the boto3 client, the first probe.
                    load(url, 2, 8, headers)
                    proxy.reset_counts()
                    cpu_before = worker_cpu_seconds(sites[site].process.pid)
                    rate, p50, p99, bad = load(url, args.duration, args.connections, headers)
                    cpu_after = worker_cpu_seconds(sites[site].process.pid)
                    served = rate * args.duration
                    cpu_ms = (
                        (cpu_after - cpu_before) * 1000 / served
                        if served and cpu_before is not None and cpu_after is not None
                        else float("nan")
                    )
                    bucket_requests = sum(proxy.counts.values())
                    figures[label] = (rate, p50, p99, bucket_requests, cpu_ms)
                    print(
                        f"{label:30} {rate:9.1f} {p50:8.2f} {p99:8.2f} {bad:7d} "
                        f"{bucket_requests:11d} {cpu_ms:11.3f}",
                        flush=True,
                    )
    finally:
        server.stop()

    before, live, ours, ready, scrape, after, noop, peer = (
        figures[label] for label, _, _ in TARGETS
    )
    ceiling = [(a + b) / 2 for a, b in zip(before[:3], after[:3], strict=True)]
    allowed = WORKERS * (args.duration / HEALTH_TTL + 1)
    print(f"\n{MINIMAL}, mean of both runs: {ceiling[0]:.1f} req/s, p99 {ceiling[2]:.2f} ms")
    print(
        f"/livez vs {MINIMAL}: {live[0] / ceiling[0]:.2f}x requests/s "
        f"(target >= {LIVE_TARGET:.2f}), p99 {live[2] / ceiling[2]:.2f}x"
    )
    for label, figure in (("/healthz", ours), ("/readyz", ready)):
        print(
            f"{label} vs {MINIMAL}: {figure[0] / ceiling[0]:.2f}x requests/s "
            f"(target >= {RATE_TARGET:.2f}), p99 {figure[2] / ceiling[2]:.2f}x "
            f"(target <= {P99_TARGET:.2f})"
        )
    print(
        f"server CPU per request: /livez {live[4]:.3f} ms, /healthz {ours[4]:.3f} ms, "
        f"/readyz {ready[4]:.3f} ms, /metrics {scrape[4]:.3f} ms "
        f"(target for /metrics <= {CPU_TARGET_MS:g} ms)"
    )
    print(
        f"no-op view behind the full middleware stack vs {MINIMAL}: "
        f"{noop[0] / ceiling[0]:.2f}x requests/s, p99 {noop[2] / ceiling[2]:.2f}x "
        "(where /healthz was before HealthCheckMiddleware)"
    )
    if peer[0] and peer[2]:
        print(
            f"/healthz vs django-health-check: {ours[0] / peer[0]:.0f}x requests/s, "
            f"p99 {ours[2] / peer[2]:.3f}x"
        )
    else:
        print(
            "/healthz vs django-health-check: the peer completed no request in time "
            "(every one hit the 5 s client timeout)"
        )
    print(
        f"bucket requests during /healthz: {ours[3]}, /readyz: {ready[3]}, /metrics: "
        f"{scrape[3]}, /livez: {live[3]} (target <= {allowed:.0f}: "
        f"{WORKERS} workers x (duration / TTL + 1); /livez 0); during the peer's run: {peer[3]}"
    )
    met = (
        live[0] >= LIVE_TARGET * ceiling[0]
        and live[3] == 0
        and all(
            f[0] >= RATE_TARGET * ceiling[0] and f[2] <= P99_TARGET * ceiling[2] and f[3] <= allowed
            for f in (ours, ready)
        )
        and scrape[4] <= CPU_TARGET_MS
        and scrape[3] <= allowed
    )
    print("targets met" if met else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
