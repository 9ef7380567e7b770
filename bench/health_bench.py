"""/healthz under load, beside the framework's ceiling and django-health-check.

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

Targets: /healthz at >= 0.9x the minimal site's requests/s, p99 at most 1.5x
the minimal site's, and at most (duration / TTL + 1) bucket requests per worker.

    .venv/bin/python bench/health_bench.py [--duration 10] [--connections 32]
"""

import argparse
import http.client
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
    ("/healthz", "product", "/healthz"),
    (f"{MINIMAL} (again)", "minimal", "/healthz"),
    ("no-op view, full middleware", "product", "/noop/"),
    ("django-health-check storage", "product", "/peer/health/"),
]
RATE_TARGET, P99_TARGET = 0.9, 1.5
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url, duration, connections):
    """(requests/s, p50 ms, p99 ms, non-2xx or errors) from wrk."""
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


def python_load(url, duration, connections):
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
                conn.request("GET", path, headers={"Accept": "application/json"})
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
                    f"{'errors':>7} {'bucket reqs':>11}"
                )
                for label, site, path in TARGETS:
                    url = sites[site].url + path
                    # Warm up every worker: imports, the boto3 client, the first probe.
                    load(url, 2, 8)
                    proxy.reset_counts()
                    rate, p50, p99, bad = load(url, args.duration, args.connections)
                    bucket_requests = sum(proxy.counts.values())
                    figures[label] = (rate, p50, p99, bucket_requests)
                    print(
                        f"{label:30} {rate:9.1f} {p50:8.2f} {p99:8.2f} {bad:7d} "
                        f"{bucket_requests:11d}",
                        flush=True,
                    )
    finally:
        server.stop()

    before, ours, after, noop, peer = (figures[label] for label, _, _ in TARGETS)
    ceiling = [(a + b) / 2 for a, b in zip(before, after, strict=True)]
    allowed = WORKERS * (args.duration / HEALTH_TTL + 1)
    print(f"\n{MINIMAL}, mean of both runs: {ceiling[0]:.1f} req/s, p99 {ceiling[2]:.2f} ms")
    print(
        f"/healthz vs {MINIMAL}: {ours[0] / ceiling[0]:.2f}x requests/s "
        f"(target >= {RATE_TARGET:.2f}), p99 {ours[2] / ceiling[2]:.2f}x "
        f"(target <= {P99_TARGET:.2f})"
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
        f"bucket requests during /healthz: {ours[3]} (target <= {allowed:.0f}: "
        f"{WORKERS} workers x (duration / TTL + 1)); during the peer's run: {peer[3]}"
    )
    met = (
        ours[0] >= RATE_TARGET * ceiling[0]
        and ours[2] <= P99_TARGET * ceiling[2]
        and ours[3] <= allowed
    )
    print("targets met" if met else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
