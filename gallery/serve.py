"""``make serve-local``: the endpoints under gunicorn against the local emulator.

Starts the S3 emulator (moto's server mode) with the bucket provisioned,
migrates the SQLite database, starts gunicorn with ``settings.local`` and
prints what to try; Ctrl-C stops both.

    python -m gallery.serve [--port 8000] [--workers 2]

The helpers here (``spawn_gunicorn``, ``query_endpoints``) are shared with the
demo, the endpoint tests and the benchmark.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


class Gunicorn:
    """A gunicorn process serving ``settings.wsgi`` on 127.0.0.1:``port``."""

    def __init__(self, port, env, workers=2, threads=1, log=subprocess.DEVNULL):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        command = [
            str(GUNICORN),
            "settings.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--graceful-timeout",
            "3",
            "--timeout",
            "60",
        ]
        if threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(threads)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout=60.0):
        """Block until gunicorn answers HTTP (any status) or give up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}")
            try:
                urllib.request.urlopen(f"{self.url}/__ready__", timeout=2)
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
            else:
                return self
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on {self.url} within {timeout:g}s")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def __enter__(self):
        return self.wait_ready()

    def __exit__(self, *exc):
        self.stop()


def get(url, token=None, accept="application/json", timeout=30):
    """(status, body text) of a GET, HTTP errors included."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def query_endpoints(base_url, token):
    """What a monitor and an operator see: /healthz and /debug/r2/config."""
    lines = []
    for accept in ("text/plain", "application/json"):
        status, body = get(f"{base_url}/healthz", accept=accept)
        lines.append(f"$ curl -H 'Accept: {accept}' {base_url}/healthz\n{status} {body}")
    status, body = get(f"{base_url}/debug/r2/config")
    lines.append(f"$ curl {base_url}/debug/r2/config   # no token\n{status} {body}")
    status, body = get(f"{base_url}/debug/r2/config", token=token)
    try:
        default = json.loads(body)["storages"][0]
        summary = {
            key: default.get(key)
            for key in ("bucket_name", "endpoint_url", "custom_domain", "example_url", "auth")
        }
        body = json.dumps(summary, indent=2)
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    lines.append(
        f"$ curl -H 'Authorization: Bearer ...' {base_url}/debug/r2/config\n{status} {body}"
    )
    return "\n\n".join(lines)


def show_endpoints(workers=1):
    """For the demo's end, while the emulator is up: gunicorn on a free port
    with this process's settings, the endpoints queried, gunicorn stopped."""
    from django.conf import settings

    from gallery.emulator import free_port

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "settings.local"),
    }
    with Gunicorn(free_port(), env, workers=workers) as server:
        return query_endpoints(server.url, settings.R2_TOOLKIT.get("TOKEN"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    from gallery import emulator

    call_command("migrate", verbosity=0)
    # SIGTERM (a process manager, `kill`) stops both children like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    moto = emulator.spawn_moto(settings.EMULATOR_PORT)
    server = None
    try:
        emulator.provision_from_settings()
        server = Gunicorn(args.port, dict(os.environ), workers=args.workers, log=None).wait_ready()
        token = settings.R2_TOOLKIT.get("TOKEN")
        # The built-in local token may be shown; a token from the environment is a secret.
        shown = token if token == "local-dev-token" else "$R2_TOOLKIT_TOKEN"
        print(
            f"\nS3 emulator on {settings.AWS_S3_ENDPOINT_URL}, bucket "
            f"{settings.AWS_STORAGE_BUCKET_NAME!r}; endpoints on {server.url}\n"
        )
        print(query_endpoints(server.url, token))
        print(
            f"\nTry: curl -H 'Authorization: Bearer {shown}' {server.url}/debug/r2/checks\n"
            "Ctrl-C stops gunicorn and the emulator.",
            flush=True,
        )
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not interrupt the clean-up and orphan a child.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            server.stop()
        moto.terminate()
        moto.wait(timeout=10)
        print("\ngunicorn and the S3 emulator stopped.")


if __name__ == "__main__":
    main()
