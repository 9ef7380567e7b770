"""``make bench``: every capability's benchmark beside its peer, one after another."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    ("r2_check vs django-health-check", "check_bench.py"),
    ("/healthz vs a minimal Django site and django-health-check", "health_bench.py"),
    ("r2_backfill vs s5cmd, aws cli, rclone", "backfill_bench.py"),
    ("r2_audit vs a HEAD per row and aws s3 ls", "audit_bench.py"),
]


def main():
    status = 0
    for title, script in SCRIPTS:
        print(f"\n##### {title} ({script})", flush=True)
        if not (BENCH / script).exists():
            print(f"unavailable: bench/{script} is missing")
            status = 1
            continue
        status |= subprocess.call([sys.executable, str(BENCH / script), *sys.argv[1:]])
    return status


if __name__ == "__main__":
    sys.exit(main())
