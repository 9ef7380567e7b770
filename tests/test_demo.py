"""`make demo`'s path, end to end, in a process of its own: migrate, legacy
images, emulator up, r2_check green, endpoints queried, emulator down."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gallery import emulator

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_runs_green_on_a_fresh_database(tmp_path):
    port = emulator.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "R2_TOOLKIT_EMULATOR_PORT": str(port),
    }
    result = subprocess.run(
        [sys.executable, "-m", "gallery.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for command in ("r2_check", "r2_backfill"):
        assert f"({command} exit status: 0)" in output
    assert "uploaded 6" in output and "verified 6 rows: 0 mismatches" in output
    assert "200 ok" in output  # /healthz as a monitor sees it
    assert "legacy images" in output
    assert list((tmp_path / "media").rglob("*.jpg")) and list((tmp_path / "media").rglob("*.png"))
    with pytest.raises(OSError):  # the emulator is stopped again
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
