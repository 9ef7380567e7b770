"""Wall time of a full ``r2_check`` against django-health-check's storage check.

Both run as an operator runs them (a fresh ``manage.py`` process), against the
same local S3 emulator, on plain loopback and behind a proxy that adds 50 ms
to every request (a real R2 round trip). The peer's ``health_check --no-http``
runs only its Storage check (save, exists, read, delete: one probe); r2_check
runs every group, round-trip included. The two run in alternation, so load
from elsewhere on a shared machine falls on both alike.

    .venv/bin/python bench/check_bench.py [--repeat 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery import emulator  # noqa: E402
from tests.support.netproxy import Proxy  # noqa: E402
from tests.support.servers import run_manage, site_env, start_moto  # noqa: E402

CONDITIONS = [("loopback", 0.0), ("+50 ms/request", 0.050)]
TARGET_RATIO = 1.0  # issue 11: as fast as its cheapest peer, every check included


def timed(args, env):
    started = time.perf_counter()
    result = run_manage(*args, env=env)
    return time.perf_counter() - started, result


def measure_pair(ours, theirs, env, repeat, proxy):
    """Median wall time and request count of each command, run in alternation
    (ours, theirs, theirs, ours, ...) so a burst of load on a shared machine
    falls on both sides alike."""
    figures = {"ours": ([], []), "theirs": ([], [])}
    for round_ in range(repeat):
        order = [("ours", ours), ("theirs", theirs)]
        for side, args in order if round_ % 2 == 0 else order[::-1]:
            proxy.reset_counts()
            seconds, result = timed(args, env)
            if result.returncode != 0:
                raise SystemExit(
                    f"{' '.join(args)} failed ({result.returncode}):\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
                )
            figures[side][0].append(seconds)
            figures[side][1].append(sum(proxy.counts.values()))
    return {
        side: (statistics.median(times), statistics.median(requests))
        for side, (times, requests) in figures.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = start_moto()
    workdir = Path(tempfile.mkdtemp(prefix="check-bench-"))
    bucket = "check-bench"
    emulator.provision(server.client(), bucket, ["https://app.example.test"])
    try:
        print(
            f"{'condition':16} {'r2_check':>10} {'peer':>10} {'ratio':>7}"
            f" {'r2 reqs':>8} {'peer reqs':>9}"
        )
        for label, latency in CONDITIONS:
            with Proxy(server.endpoint_url, latency=latency) as proxy:
                # Every request, the anonymous public-URL read included, goes through the proxy.
                env = site_env(proxy.url, bucket, workdir, server.access_key, server.secret_key)
                run_manage("migrate", "-v0", env=env)
                measured = measure_pair(
                    ["r2_check", "--format", "json"],
                    [
                        "health_check",
                        "peer_storage_health",
                        "--no-http",
                        "--settings",
                        "bench.hc_settings",
                    ],
                    env,
                    args.repeat,
                    proxy,
                )
                (ours, our_reqs), (peer, peer_reqs) = measured["ours"], measured["theirs"]
            ratio = ours / peer
            print(
                f"{label:16} {ours:9.2f}s {peer:9.2f}s {ratio:6.2f}x {our_reqs:8.0f} {peer_reqs:9.0f}"
                f"   {'within' if ratio <= TARGET_RATIO else 'OVER'} the {TARGET_RATIO}x target"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
