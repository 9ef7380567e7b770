"""``manage.py r2_backfill`` as an operator runs it (a real process, a real
database file or PostgreSQL database, moto on loopback), under the things that
happen in production: SIGKILL at random points, a flaky network, two workers
at once. After each, the state must be one an uninterrupted run would leave:
every migrated row points at an object holding exactly its local file, and the
bucket holds no object that no row points at.
"""

import contextlib
import hashlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from tests.support import servers
from tests.support.netproxy import Proxy
from tests.support.servers import ROOT, manage_env, postgres_database

PROBE_PREFIX = "_r2_toolkit/"  # the per-run If-None-Match probe objects live here
RUN_TIMEOUT = 240
ROW_FIELDS = (
    "id",
    "image",
    "storage_key",
    "public_url",
    "mime_type",
    "width",
    "height",
    "size_bytes",
)


# --- databases the subprocesses can see


def fetch_rows(database_url):
    query = f"SELECT {', '.join(ROW_FIELDS)} FROM gallery_userimage"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            records = db.execute(query).fetchall()
    else:
        import psycopg

        with psycopg.connect(database_url) as db:
            records = db.execute(query).fetchall()
    return [
        Row(
            *(
                str(value) if value is not None and name == "id" else value
                for name, value in zip(ROW_FIELDS, record, strict=True)
            )
        )
        for record in records
    ]


@dataclass(frozen=True)
class Row:
    id: str
    image: str
    storage_key: str | None
    public_url: str | None
    mime_type: str | None
    width: int | None
    height: int | None
    size_bytes: int | None


# --- a legacy site: files in MEDIA_ROOT, rows pointing at them, a bucket


class Site:
    def __init__(self, server, directory, database_url):
        self.server = server
        self.directory = directory
        self.media = directory / "media"
        self.database_url = database_url
        self.bucket = server.new_bucket_name("backfill")
        server.client().create_bucket(Bucket=self.bucket)

    def env(self, endpoint=None):
        return manage_env(
            self.server,
            self.bucket,
            self.directory,
            MEDIA_ROOT=str(self.media),
            DATABASE_URL=self.database_url,
            AWS_S3_ENDPOINT_URL=endpoint or self.server.endpoint_url,
        )

    def manage(self, *args):
        return [sys.executable, str(ROOT / "manage.py"), *args]

    def start_backfill(self, *args, endpoint=None):
        return subprocess.Popen(
            self.manage("r2_backfill", "--workers", "8", *args),
            cwd=ROOT,
            env=self.env(endpoint),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def backfill(self, *args, endpoint=None):
        process = self.start_backfill(*args, endpoint=endpoint)
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
        return process.returncode, output

    def seed(self, count):
        """Migrate, then ``count`` legacy rows with tiny real JPEG/PNG files."""
        for command in (
            ["migrate", "-v0"],
            [
                "shell",
                "-c",
                "from gallery.legacy import create_legacy_images; "
                f"create_legacy_images({count}, seed=7)",
            ],
        ):
            result = subprocess.run(
                self.manage(*command),
                cwd=ROOT,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
            )
            assert result.returncode == 0, result.stderr[-2000:]

    def clone(self, directory, database_url):
        """The same rows and files, a fresh bucket (SQLite only: copies the file)."""
        twin = Site(self.server, directory, database_url)
        shutil.copyfile(
            self.database_url.removeprefix("sqlite:///"), database_url.removeprefix("sqlite:///")
        )
        twin.media = self.media
        return twin

    def rows(self):
        return fetch_rows(self.database_url)

    def objects(self):
        """{key: (size, etag)} of the bucket, the run's probe objects aside."""
        found = {}
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].startswith(PROBE_PREFIX):
                    found[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
        return found

    def public_url(self, key):
        return f"http://{self.env()['AWS_S3_CUSTOM_DOMAIN']}/{key}"


def sqlite_site(server, directory):
    directory.mkdir(parents=True, exist_ok=True)
    return Site(server, directory, f"sqlite:///{directory / 'db.sqlite3'}")


def assert_consistent(site, finished=True):
    """Every migrated row points at an object equal to its local file (size and
    MD5), with its six fields right, and no two rows share one. A finished run
    leaves no object that no row points at; a killed one may have uploaded
    objects whose rows it had not written yet (the next run adopts them), but
    only under the keys of those rows. Returns the rows."""
    rows, objects = site.rows(), site.objects()
    migrated = [row for row in rows if row.storage_key is not None]
    for row in migrated:
        data = (site.media / row.image).read_bytes()
        assert row.storage_key in objects, f"row {row.id} points at a missing object"
        assert objects[row.storage_key] == (len(data), hashlib.md5(data).hexdigest()), (
            f"row {row.id} points at an object with other bytes"
        )
        assert row.size_bytes == len(data)
        assert row.mime_type == ("image/jpeg" if row.image.endswith(".jpg") else "image/png")
        assert (row.width, row.height) == (64, 48)
        assert row.public_url == site.public_url(row.storage_key)
    keys = [row.storage_key for row in migrated]
    assert len(keys) == len(set(keys)), "two rows share one object"
    if finished:
        assert set(objects) == set(keys), "objects that no row points at"
    else:  # the key scheme is users/<username>/images/<file>, as the legacy names are
        assert set(objects) <= {row.image for row in rows}, "objects under unexpected keys"
    return rows


def final_state(site):
    """What an operator compares between two runs: per legacy file, the row's
    R2 fields; per key, the object's size and MD5."""
    rows = {
        row.image: (row.storage_key, row.mime_type, row.width, row.height, row.size_bytes)
        for row in assert_consistent(site)
    }
    return rows, site.objects()


def read_report(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_puts(process, proxy, target):
    """Block until the proxy has seen ``target`` PUTs or the process ended."""
    while proxy.counts["PUT"] < target and process.poll() is None:
        time.sleep(0.01)


# --- the tests


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(moto_server, tmp_path):
    rows = 2_000
    reference = sqlite_site(moto_server, tmp_path / "reference")
    reference.seed(rows)
    crashed = reference.clone(tmp_path / "crashed", f"sqlite:///{tmp_path / 'crashed.sqlite3'}")

    status, output = reference.backfill()
    assert status == 0, output[-3000:]

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kills = 0
    with Proxy(moto_server.endpoint_url) as proxy:
        # Kill after a random number of PUTs this time: early, middle, late.
        for _ in range(4):
            proxy.reset_counts()
            process = crashed.start_backfill(endpoint=proxy.url)
            remaining = sum(row.storage_key is None for row in crashed.rows())
            wait_for_puts(process, proxy, rng.randint(1, max(1, remaining // 2)))
            if process.poll() is None:
                process.kill()
                kills += 1
            process.communicate(timeout=RUN_TIMEOUT)
            assert_consistent(crashed, finished=False)  # no row ahead of its object
    assert kills >= 3, f"the runs ended before they could be killed (seed {seed})"

    status, output = crashed.backfill()
    assert status == 0, output[-3000:]
    assert final_state(crashed) == final_state(reference), f"seed {seed}"
    assert all(row.storage_key for row in crashed.rows())


def flaky(rng, slow_down=0.10, reset=0.05, delay=0.05):
    """A fault for a fraction of requests, seeded so a failure can be replayed."""

    def fault(method, path, n):
        draw = rng.random()
        if draw < slow_down:
            return "503"
        if draw < slow_down + reset:
            return "reset"
        if draw < slow_down + reset + delay:
            return ("delay", 0.2)
        return None

    return fault


@pytest.mark.slow
def test_faults_never_leave_a_row_without_its_verified_object(moto_server, tmp_path):
    site = sqlite_site(moto_server, tmp_path)
    site.seed(400)
    seed = random.randrange(1_000_000)
    report = tmp_path / "report.jsonl"
    with Proxy(moto_server.endpoint_url, fault=flaky(random.Random(seed))) as proxy:
        status, output = site.backfill("--report", str(report), endpoint=proxy.url)
        faults = proxy.counts
    assert sum(faults.values()) > 400, "the faults were injected"
    assert status in (0, 1), f"seed {seed}: {output[-3000:]}"

    rows = assert_consistent(site)
    failed = {entry["id"] for entry in read_report(report) if entry["status"] == "failed"}
    untouched = {row.id.replace("-", "") for row in rows if row.storage_key is None}
    assert {pk.replace("-", "") for pk in failed} == untouched, f"seed {seed}"
    assert (status == 1) == bool(failed), f"seed {seed}: {output[-3000:]}"

    # Whatever exhausted its retries goes through on a calm re-run.
    status, output = site.backfill()
    assert status == 0, output[-3000:]
    assert all(row.storage_key for row in assert_consistent(site))


@pytest.mark.slow
@pytest.mark.postgres
def test_two_unsharded_workers_on_postgresql_upload_each_file_once(moto_server, tmp_path):
    rows = 1_000
    with postgres_database("r2_backfill") as database_url:
        site = Site(moto_server, tmp_path, database_url)
        site.seed(rows)
        with Proxy(moto_server.endpoint_url) as proxy:
            reports = [tmp_path / f"worker-{index}.jsonl" for index in range(2)]
            workers = [
                site.start_backfill("--report", str(report), endpoint=proxy.url)
                for report in reports
            ]
            outputs = [worker.communicate(timeout=RUN_TIMEOUT)[0] for worker in workers]
            puts = [path for method, path in proxy.requests if method == "PUT"]
        for worker, output in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, output[-3000:]

        done = [
            {entry["id"] for entry in read_report(report) if entry["status"] == "uploaded"}
            for report in reports
        ]
        assert all(done), "both workers took part"
        assert not done[0] & done[1], "no row done by both"
        assert len(done[0] | done[1]) == rows

        probes = [path for path in puts if f"/{PROBE_PREFIX}" in path]
        assert not probes, "no If-None-Match probe object"
        # Each run sends its first file twice: the second PUT, conditional,
        # finds out whether the server honours If-None-Match (moto answers 412).
        assert len(set(puts)) == rows and len(puts) <= rows + 2, "each file uploaded once"
        migrated = assert_consistent(site)
        assert len(migrated) == rows and all(row.storage_key for row in migrated)


def test_postgres_helpers_skip_cleanly_without_a_server(monkeypatch):
    """The PostgreSQL tests skip, rather than fail, where there is no server."""
    monkeypatch.setitem(servers.PG_ADMIN, "port", 1)
    with pytest.raises(pytest.skip.Exception), postgres_database("r2_backfill"):
        pass
