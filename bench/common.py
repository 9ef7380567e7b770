"""Helpers shared by the benchmarks: run a command and measure its wall time
and peak memory, and print aligned tables of figures.

Peak memory comes from ``os.wait4``: the kernel's ``ru_maxrss`` of that one
child, which also covers the grandchildren it waited for (a shim that starts
the real binary). No sampling, so short peaks are not missed.
"""

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

MB = 1_000_000


@dataclass
class Measured:
    seconds: float
    returncode: int
    peak_mb: float
    output: str

    @property
    def ok(self):
        return self.returncode == 0

    def tail(self, lines=15):
        return "\n".join(self.output.strip().splitlines()[-lines:])


def run_measured(cmd, env=None, cwd=None, timeout=None):
    """Run ``cmd`` to completion; wall time, exit status, peak RSS and output
    (stdout and stderr together, through a file so no pipe can fill up)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen([str(part) for part in cmd], env=env, cwd=cwd,
                                   stdout=out, stderr=subprocess.STDOUT)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, process.kill)
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer:
                timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    # ru_maxrss is in KiB on Linux.
    return Measured(seconds, process.returncode, usage.ru_maxrss * 1024 / MB, output)


def ratio(ours, theirs):
    """``ours / theirs`` as ``1.23x``, or ``n/a`` when either side is missing."""
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def print_table(headers, rows):
    """Rows of already formatted cells, left column left-aligned, the rest right."""
    rows = [[str(cell) for cell in row] for row in rows]
    full = [row for row in rows if len(row) >= len(headers)]
    widths = [max([len(str(header))] + [len(row[i]) for row in full])
              for i, header in enumerate(headers)]

    def line(cells):
        return "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                         for i, cell in enumerate(cells))

    print(line([str(header) for header in headers]))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        if len(row) < len(headers):  # a note spanning the row: "unavailable: ..."
            print(line(row[:1]) + "  " + "  ".join(row[1:]))
        else:
            print(line(row))
    print(flush=True)
