"""``r2_audit --delete-orphans --yes`` killed mid-way: the batches sent are
in the quarantine, nothing referenced is touched, nothing is lost (an
orphan copied but not yet removed has both), and a re-run moves the rest.
Real processes (killed with SIGKILL) against moto behind the test proxy."""

import contextlib
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from tests.support.audit import put_objects
from tests.support.netproxy import Proxy
from tests.support.servers import ROOT, manage_env, postgres_database, run_manage

REFERENCED = [f"users/alice/images/kept-{i}.jpg" for i in range(5)]
ORPHANS = [f"users/alice/images/orphan-{i:05d}.jpg" for i in range(350)]
SEED_ROWS = (  # rows as r2_backfill leaves them, for the referenced objects
    "from django.contrib.auth.models import User\n"
    "from r2_toolkit.migrations_r2.bucket import open_bucket\n"
    "from tests.support.audit import migrated_rows\n"
    "from gallery.models import UserImage\n"
    "alice = User.objects.create(username='alice')\n"
    "UserImage.objects.bulk_create(migrated_rows(alice, {keys!r}, open_bucket(1).public_url))\n"
)


@contextlib.contextmanager
def database(kind, tmp_path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        with postgres_database("r2_audit") as url:
            yield url


def keys_of(client, bucket):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_quarantine_killed_mid_way_is_finished_by_a_rerun(moto_server, tmp_path, kind):
    client = moto_server.client()
    bucket = moto_server.new_bucket_name("audit")
    client.create_bucket(Bucket=bucket)
    put_objects(client, bucket, REFERENCED + ORPHANS)
    second_delete = threading.Event()
    deletes = []

    def hang_on_the_second_delete(method, path, n):
        if method == "POST" and "delete" in path:
            deletes.append(path)
            if len(deletes) == 2:
                second_delete.set()
                return "hang"
        return None

    with database(kind, tmp_path) as url, Proxy(moto_server.endpoint_url) as proxy:
        env = manage_env(moto_server, bucket, tmp_path, DATABASE_URL=url)
        for args in (["migrate", "-v0"], ["shell", "-c", SEED_ROWS.format(keys=REFERENCED)]):
            done = run_manage(*args, env=env)
            assert done.returncode == 0, done.stderr[-2000:]
        proxy.fault = hang_on_the_second_delete
        audit = [sys.executable, str(ROOT / "manage.py"), "r2_audit", "--grace", "0"]
        process = subprocess.Popen(
            [*audit, "--delete-orphans", "--yes"],
            cwd=ROOT,
            env={**env, "AWS_S3_ENDPOINT_URL": proxy.url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert second_delete.wait(timeout=120), "the second batch was never sent"
            time.sleep(0.2)
        finally:
            process.kill()
            process.wait(timeout=30)

        left = keys_of(client, bucket)
        quarantine = f"r2-toolkit-quarantine/{datetime.now(UTC).date().isoformat()}/"
        moved = {key for key in left if key.startswith(quarantine)}
        assert set(REFERENCED) <= left  # nothing referenced was ever touched
        in_place = left - set(REFERENCED) - moved
        assert len(in_place) == len(ORPHANS) - 100  # one whole batch went
        # Every orphan is somewhere: the second batch was copied, not yet removed.
        assert {key.removeprefix(quarantine) for key in moved} | in_place == set(ORPHANS)
        assert len(moved) == 200

        proxy.fault = None
        again = run_manage("r2_audit", "--grace", "0", "--delete-orphans", "--yes", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "moved 250 orphans to the quarantine" in again.stdout
        assert keys_of(client, bucket) == set(REFERENCED) | {quarantine + k for k in ORPHANS}
        assert run_manage("r2_audit", "--grace", "0", env=env).returncode == 0
