"""Real S3 servers on loopback for the tests: moto's server mode and the
independent s3rver from npm (which enforces per-bucket CORS on preflights)."""

import contextlib
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from gallery import emulator

ROOT = Path(__file__).resolve().parents[2]
S3RVER_BIN = ROOT / "node_modules" / ".bin" / "s3rver"


@dataclass
class S3Server:
    kind: str  # "moto" or "s3rver"
    endpoint_url: str
    access_key: str
    secret_key: str
    process: subprocess.Popen

    @property
    def port(self):
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def client(self):
        return emulator.client(self.endpoint_url, self.access_key, self.secret_key)

    def new_bucket_name(self, prefix="t"):
        return f"{prefix}-{uuid.uuid4().hex[:16]}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_moto(port=None, tls=None):
    """moto on loopback; ``tls``: (certificate, key) to serve HTTPS instead."""
    port = port or emulator.free_port()
    process = emulator.spawn_moto(port, tls=tls)
    scheme = "https" if tls else "http"
    return S3Server(
        "moto", f"{scheme}://127.0.0.1:{port}", "moto-access-key", "moto-secret-key", process
    )


def self_signed_certificate(directory):
    """(certificate, key) paths of a throwaway certificate for 127.0.0.1."""
    certificate, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def certificate_authority(directory):
    """(CA certificate, server certificate, server key) paths: a throwaway CA
    and a certificate for 127.0.0.1 that it signed. Clients built on webpki
    (rustls, obstore) refuse a self-signed CA certificate as a server's own."""
    directory = Path(directory)
    ca, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    certificate, key = directory / "server.pem", directory / "server-key.pem"
    request, extensions = directory / "server.csr", directory / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=r2-toolkit test CA", "-keyout", ca_key, "-out", ca],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", request],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "1", "-extfile", extensions, "-out", certificate],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return ca, certificate, key


def start_s3rver(port=None):
    if not S3RVER_BIN.exists():
        raise RuntimeError("s3rver is not installed: run `npm install` (make install does)")
    port = port or emulator.free_port()
    directory = tempfile.mkdtemp(prefix="s3rver-")
    process = subprocess.Popen(
        ["node", str(S3RVER_BIN), "-d", directory, "-a", "127.0.0.1", "-p", str(port), "-s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    emulator.wait_for_port(port, process=process)
    server = S3Server("s3rver", f"http://127.0.0.1:{port}", "S3RVER", "S3RVER", process)
    server.cleanup = lambda: shutil.rmtree(directory, ignore_errors=True)
    return server


class HangingServer:
    """Accepts TCP connections on loopback and never answers: a bucket
    endpoint that hangs (the failure that holds naive health checks)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def site_env(endpoint_url, bucket, tmp_path, access_key, secret_key, base=None, **extra):
    """Environment for a ``manage.py`` or gunicorn subprocess whose settings
    describe ``bucket`` at ``endpoint_url``, with its own SQLite file."""
    import os

    return {
        **(os.environ if base is None else base),
        "DJANGO_SETTINGS_MODULE": "settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AWS_S3_ENDPOINT_URL": endpoint_url,
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_CUSTOM_DOMAIN": f"{endpoint_url.split('://', 1)[1]}/{bucket}",
        "AWS_S3_URL_PROTOCOL": "http:",
        "R2_TOOLKIT_CORS_ORIGINS": "https://app.example.test",
        **extra,
    }


def manage_env(server, bucket, tmp_path, **extra):
    """``site_env`` for ``bucket`` on ``server``, with the server's credentials."""
    return site_env(
        server.endpoint_url, bucket, tmp_path, server.access_key, server.secret_key, **extra
    )


def run_manage(*args, env, timeout=120):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- throwaway PostgreSQL databases that subprocesses can see ---------------
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def postgres_reachable():
    import psycopg

    try:
        with psycopg.connect(**PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres_database(prefix, password=None):
    """A uniquely named PostgreSQL database for one test, as a URL, dropped
    afterwards; skips the test where no server answers. ``password`` rides in
    the URL (trust auth ignores it) so tests can prove it never leaks."""
    import psycopg
    import pytest

    if not postgres_reachable():
        pytest.skip(f"PostgreSQL is not reachable on {PG_ADMIN['host']}:{PG_ADMIN['port']}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = f"{PG_ADMIN['user']}:{password}" if password else PG_ADMIN["user"]
    try:
        yield f"postgres://{credentials}@{PG_ADMIN['host']}:{PG_ADMIN['port']}/{name}"
    finally:
        with psycopg.connect(**PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
