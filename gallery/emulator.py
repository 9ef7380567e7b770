"""The local S3 emulator behind the embedded default (moto's server mode).

Starts a real S3 server on loopback and provisions the bucket as a real R2
public bucket would be: CORS rules that let the configured origins GET and
PUT, and anonymous public read. Used by ``make demo``, ``make serve`` and the
test fixtures.

    python -m gallery.emulator start|stop|status [--port 9100]
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

from r2_toolkit.core.compat import checksum_options

ROOT = Path(__file__).resolve().parent.parent
PID_FILE = ROOT / "var" / "emulator.pid"
LOG_FILE = PID_FILE.with_suffix(".log")


def cors_rules(origins):
    """The rule set the toolkit recommends for ``origins`` (any, when none)."""
    from r2_toolkit.checks.cors_rules import new_rule

    return [new_rule(list(origins) or ["*"])]


def public_read_policy(bucket):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=20.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the S3 emulator exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the S3 emulator did not listen on 127.0.0.1:{port} within {timeout:g}s")


def spawn_moto(port, log=subprocess.DEVNULL, tls=None):
    """A moto S3 server (gallery.moto_app under gunicorn) on 127.0.0.1:``port``,
    listening when this returns; its own process group, so that stopping the
    group stops gunicorn's worker too. ``tls``: (certificate, key) paths to
    serve HTTPS, as R2 does."""
    tls_options = ["--certfile", str(tls[0]), "--keyfile", str(tls[1])] if tls else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",  # the buckets live in the worker's memory
            "--worker-class",
            "gthread",
            "--threads",
            "32",
            "--keep-alive",
            "30",
            "--graceful-timeout",
            "2",
            "--log-level",
            "warning",
            *tls_options,
            "gallery.moto_app:app",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port, process=process)
    return process


def client(
    endpoint_url, access_key="local-access-key", secret_key="local-secret-key", region="us-east-1"
):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(
            **checksum_options(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        ),
    )


def provision(s3, bucket, origins=(), public=True, cors=True):
    """Create ``bucket`` (if needed) with CORS rules and public read."""
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    if cors:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors_rules(origins)})
    if public:
        s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))


def provision_from_settings():
    """Provision the bucket the current Django settings point at."""
    from django.conf import settings

    from r2_toolkit.core.conf import toolkit_settings

    s3 = client(
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_ACCESS_KEY_ID,
        settings.AWS_SECRET_ACCESS_KEY,
        settings.AWS_S3_REGION_NAME,
    )
    provision(s3, settings.AWS_STORAGE_BUCKET_NAME, toolkit_settings.CORS_ORIGINS)


def running_pid():
    try:
        pid = int(PID_FILE.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(port):
    if running_pid():
        print(f"S3 emulator already running (pid {running_pid()}) on port {port}")
        return
    PID_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("ab") as log:
        process = spawn_moto(port, log)
    PID_FILE.write_text(str(process.pid))
    print(f"S3 emulator (moto) listening on http://127.0.0.1:{port} (pid {process.pid})")


def stop():
    pid = running_pid()
    if pid is None:
        print("S3 emulator is not running")
        return
    os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        if running_pid() is None:
            break
        time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)
    print(f"S3 emulator stopped (pid {pid})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("R2_TOOLKIT_EMULATOR_PORT", "9100"))
    )
    args = parser.parse_args(argv)
    if args.action == "start":
        start(args.port)
    elif args.action == "stop":
        stop()
    else:
        pid = running_pid()
        print(f"running (pid {pid})" if pid else "not running")
        sys.exit(0 if pid else 1)


if __name__ == "__main__":
    main()
