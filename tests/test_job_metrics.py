"""The batch commands' Prometheus metrics as their consumers read them:
node_exporter's textfile (read back with prometheus_client's own parser) and
a Pushgateway (a real HTTP server on loopback capturing each push). Real
``manage.py`` processes against moto."""

import os
import socket
import stat
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gallery import emulator
from tests.support.pushgateway import Pushgateway
from tests.support.servers import ROOT, manage_env, run_manage

ORPHAN = "users/nobody/images/orphan.jpg"
KINDS = {
    "missing_object",
    "size_mismatch",
    "etag_mismatch",
    "orphan_object",
    "public_url_mismatch",
    "legacy_row",
    "content_type_mismatch",
    "cache_control_missing",
}


def families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(found, name, **labels):
    samples = [
        s for s in found[name].samples if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(samples) == 1, (name, labels, found[name].samples)
    return samples[0].value


def manage(*args, env, umask=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        umask=-1 if umask is None else umask,
    )


@pytest.fixture
def site(moto_server, tmp_path):
    """A migrated SQLite site on a fresh, fully provisioned bucket."""
    bucket = moto_server.new_bucket_name("jobs")
    emulator.provision(moto_server.client(), bucket, ["https://app.example.test"])
    env = manage_env(moto_server, bucket, tmp_path)
    (tmp_path / "media").mkdir()
    done = run_manage("migrate", "-v0", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    env["TEST_BUCKET"] = bucket
    return env


def test_the_textfile_keeps_the_last_success_through_failed_runs(site, moto_server, tmp_path):
    client, bucket = moto_server.client(), site["TEST_BUCKET"]
    textfile = tmp_path / "textfile" / "r2_audit.prom"
    textfile.parent.mkdir()
    audit = ["r2_audit", "--grace", "0", "--metrics-file", str(textfile)]

    client.put_object(Bucket=bucket, Key=ORPHAN, Body=b"x")
    failed = manage(*audit, env=site, umask=0o077)  # a strict umask, as cron jobs often have
    assert failed.returncode == 1, failed.stderr[-2000:]
    first = families(textfile.read_text())
    assert "r2_job_last_success_timestamp_seconds" not in first  # it never succeeded
    assert value(first, "r2_job_exit_code", job="r2_audit") == 1
    assert value(first, "r2_job_findings", job="r2_audit", kind="orphan_object") == 1
    assert {s.labels["kind"] for s in first["r2_job_findings"].samples} == KINDS
    assert value(first, "r2_job_duration_seconds", job="r2_audit") > 0
    # node_exporter runs as another user: the file is world-readable whatever the umask.
    assert stat.S_IMODE(os.stat(textfile).st_mode) == 0o644
    assert os.listdir(textfile.parent) == ["r2_audit.prom"]  # no staging file left behind
    assert all(s.timestamp is None for f in first.values() for s in f.samples)

    client.delete_object(Bucket=bucket, Key=ORPHAN)
    passed = manage(*audit, env=site)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    second = families(textfile.read_text())
    success = value(second, "r2_job_last_success_timestamp_seconds", job="r2_audit")
    assert success == value(second, "r2_job_last_run_timestamp_seconds", job="r2_audit")
    assert value(second, "r2_job_findings", job="r2_audit", kind="orphan_object") == 0

    client.put_object(Bucket=bucket, Key=ORPHAN, Body=b"x")
    again = manage(*audit, env=site)
    assert again.returncode == 1
    third = families(textfile.read_text())
    assert value(third, "r2_job_last_success_timestamp_seconds", job="r2_audit") == success
    assert value(third, "r2_job_last_run_timestamp_seconds", job="r2_audit") > success


def test_the_pushgateway_gets_the_run_grouped_by_job(site, tmp_path):
    textfile = tmp_path / "r2_backfill.prom"
    with Pushgateway() as gateway:
        passed = manage(
            "r2_backfill", "--metrics-file", str(textfile), "--pushgateway", gateway.url, env=site
        )
        assert passed.returncode == 0, passed.stdout + passed.stderr
        checked = manage("r2_check", "--pushgateway", gateway.url, env=site)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        failing = manage(
            "r2_check",
            "--pushgateway",
            gateway.url,
            env={**site, "AWS_STORAGE_BUCKET_NAME": "gone"},
        )
        assert failing.returncode == 1
    (m1, path1, body1), (m2, path2, body2), (m3, path3, body3) = gateway.pushes
    # A success replaces the job's group (PUT) ...
    assert (m1, path1) == ("PUT", "/metrics/job/r2_backfill")
    backfill = families(body1)
    assert value(backfill, "r2_job_rows", status="uploaded") == 0
    assert {s.labels["status"] for s in backfill["r2_job_rows"].samples} == {
        "uploaded",
        "adopted",
        "skipped",
        "failed",
    }
    # ... with no job label of its own (the grouping key is the label).
    assert all("job" not in s.labels for f in backfill.values() for s in f.samples)
    assert "r2_job_last_success_timestamp_seconds" in backfill
    assert (
        value(families(textfile.read_text()), "r2_job_rows", job="r2_backfill", status="failed")
        == 0
    )

    assert (m2, path2) == ("PUT", "/metrics/job/r2_check")
    check = families(body2)
    statuses = {s.labels["status"]: s.value for s in check["r2_job_checks"].samples}
    assert set(statuses) == {"pass", "warn", "fail", "skip"} and statuses["fail"] == 0
    assert sum(statuses.values()) >= 10
    # A failure only adds its families (POST): the gateway keeps the last success.
    assert (m3, path3) == ("POST", "/metrics/job/r2_check")
    failed = families(body3)
    assert "r2_job_last_success_timestamp_seconds" not in failed
    assert value(failed, "r2_job_exit_code") == 1
    assert value(failed, "r2_job_checks", status="fail") >= 1


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_gateway_is_a_warning_and_the_job_result_stands(site):
    url = f"http://monitor:hunter2secret@127.0.0.1:{free_port()}"
    run = manage("r2_backfill", "--pushgateway", url, env=site)
    assert run.returncode == 0
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, run.stderr
    assert "could not push the metrics to the Pushgateway at http://monitor:" in warnings[0]
    assert "hunter2secret" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "flags, sentence",
    [
        (["--metrics-file", "/nonexistent-dir/r2.prom"], "does not exist; create it."),
        (["--metrics-file", "."], "is a directory"),
        (["--pushgateway", "ftp://gateway:21"], "is not an http(s) URL"),
    ],
)
def test_flags_that_cannot_work_exit_2_before_the_job_runs(site, flags, sentence):
    run = manage("r2_audit", "--grace", "0", *flags, env=site)
    assert run.returncode == 2
    assert sentence in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert run.stdout == ""  # the audit never started


def test_without_prometheus_client_the_flags_name_the_pip_line(site, tmp_path):
    shadow = tmp_path / "shadow" / "prometheus_client"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed here')\n")
    env = {**site, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)])}
    run = manage("r2_audit", "--metrics-file", str(tmp_path / "a.prom"), env=env)
    assert run.returncode == 2
    assert "--metrics-file needs prometheus_client" in run.stderr
    assert "pip install 'r2-toolkit[metrics]'" in run.stderr
    # Without the flags the commands need nothing of it.
    assert manage("r2_audit", "--grace", "0", env=env).returncode == 0
