"""Helpers shared by the benchmarks: run a command and measure its wall time
and peak memory, and print aligned tables of figures.

Peak memory is the kernel's ``ru_maxrss`` of the measured process (from
``wait4``; it covers grandchildren it waited for, such as a shim that starts
the real binary). No sampling, so short peaks are not missed. Linux counts
the RSS a process had at fork time, before its exec, so a command forked
straight from a big benchmark process would report the benchmark's own memory;
a small trampoline process forks it instead and reports its figures.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

MB = 1_000_000

TRAMPOLINE = """
import os, subprocess, sys, time
if sys.argv[2]:  # the CPUs the command may run on
    os.sched_setaffinity(0, {int(cpu) for cpu in sys.argv[2].split(",")})
started = time.perf_counter()
child = subprocess.Popen(sys.argv[3:])
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as figures:
    figures.write(f"{usage.ru_maxrss} {seconds} {usage.ru_utime + usage.ru_stime}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass
class Measured:
    seconds: float
    returncode: int
    peak_mb: float
    output: str
    cpu_seconds: float = 0.0  # user + system, the command and what it waited for

    @property
    def ok(self):
        return self.returncode == 0

    def tail(self, lines=15):
        return "\n".join(self.output.strip().splitlines()[-lines:])


def run_measured(cmd, env=None, cwd=None, timeout=None, cpus=None):
    """Run ``cmd`` to completion; wall time, exit status, peak RSS and output
    (stdout and stderr together, through a file so no pipe can fill up).
    ``cpus``: the set of CPUs it may run on (default: any)."""
    pinned = ",".join(str(cpu) for cpu in sorted(cpus)) if cpus else ""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as figures:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                TRAMPOLINE,
                figures.name,
                pinned,
                *(str(part) for part in cmd),
            ],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timer = None
        if timeout:
            # The whole group: the trampoline and the command it runs.
            timer = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
            timer.start()
        try:
            returncode = process.wait()
        finally:
            if timer:
                timer.cancel()
        out.seek(0)
        output = out.read().decode(errors="replace")
        maxrss_kib, seconds, cpu = figures.read().split() or ["0", "nan", "0"]
    # ru_maxrss is in KiB on Linux.
    return Measured(float(seconds), returncode, int(maxrss_kib) * 1024 / MB, output, float(cpu))


def ratio(ours, theirs):
    """``ours / theirs`` as ``1.23x``, or ``n/a`` when either side is missing."""
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def print_table(headers, rows):
    """Rows of already formatted cells, left column left-aligned, the rest right."""
    rows = [[str(cell) for cell in row] for row in rows]
    full = [row for row in rows if len(row) >= len(headers)]
    widths = [
        max([len(str(header))] + [len(row[i]) for row in full]) for i, header in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        )

    print(line([str(header) for header in headers]))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        if len(row) < len(headers):  # a note spanning the row: "unavailable: ..."
            print(line(row[:1]) + "  " + "  ".join(row[1:]))
        else:
            print(line(row))
    print(flush=True)


def process_family(pid):
    """{pid: /proc stat fields from the 3rd on} of a process and its children."""
    family = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The fields after the parenthesised command name.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            family[int(entry)] = fields
    return family


def process_cpu_seconds(pid):
    """User + system CPU seconds a running process and its live children
    (gunicorn's worker, say) have used so far (Linux)."""
    ticks = sum(int(f[11]) + int(f[12]) for f in process_family(pid).values())  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def pin_process(pid, cpus):
    """Keep every thread of a running process and its children on ``cpus``."""
    for member in process_family(pid):
        for thread in os.listdir(f"/proc/{member}/task"):
            os.sched_setaffinity(int(thread), cpus)
