"""`manage.py r2_check` as a pipeline runs it: a real process, a real S3
server on loopback, exit codes, the three formats, and the deadline."""

import json
import time
import uuid
from xml.etree import ElementTree as ET

import pytest

from r2_toolkit.checks.registry import GROUPS, REGISTRY
from tests.support.servers import HangingServer, manage_env, run_manage

CHECK_KEYS = {"id", "group", "status", "message", "hint", "duration_ms", "details"}


@pytest.fixture
def env(moto_bucket, tmp_path):
    env = manage_env(moto_bucket.server, moto_bucket.name, tmp_path)
    assert run_manage("migrate", "-v0", env=env).returncode == 0
    return env


def run_json(*args, env):
    result = run_manage("r2_check", "--format", "json", *args, env=env)
    return result, json.loads(result.stdout)


def test_healthy_bucket_passes_every_check(env):
    result, doc = run_json(env=env)
    failing = [c for c in doc["checks"] if c["status"] == "fail"]
    assert failing == [] and result.returncode == 0, failing
    assert doc["ok"] is True
    assert {c["group"] for c in doc["checks"]} == set(GROUPS)


def test_json_document_has_the_contract_shape(env):
    _, doc = run_json(env=env)
    assert set(doc) == {"ok", "summary", "checks"}
    assert set(doc["summary"]) == {"pass", "warn", "fail", "skip"}
    assert sum(doc["summary"].values()) == len(doc["checks"])
    for entry in doc["checks"]:
        assert set(entry) == CHECK_KEYS
        assert entry["id"] in REGISTRY and entry["id"].startswith(f"r2.{entry['group']}.")
        assert entry["status"] in {"pass", "warn", "fail", "skip"}


def test_missing_bucket_fails_with_exit_1(env):
    env["AWS_STORAGE_BUCKET_NAME"] = f"missing-{uuid.uuid4().hex[:12]}"
    result, doc = run_json(env=env)
    assert result.returncode == 1
    assert doc["ok"] is False
    head = [c for c in doc["checks"] if c["id"] == "r2.connectivity.head_bucket"]
    assert head and head[0]["status"] == "fail"
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--only", "r2.nope.nothing"], "unknown check id"),
        (["--skip", "bogus"], "unknown group"),
        (["--storage", "nosuchalias"], "not an S3 alias"),
        (["--timeout", "0"], "--timeout"),
        (["--format", "yaml"], "invalid choice"),
        (["--fail-on", "maybe"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_sentence(env, args, words):
    result = run_manage("r2_check", *args, env=env)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_only_and_skip_select_checks(env):
    _, doc = run_json("--only", "r2.connectivity.head_bucket", env=env)
    assert [c["id"] for c in doc["checks"]] == ["r2.connectivity.head_bucket"]
    _, doc = run_json("--skip", "roundtrip,cors", env=env)
    assert not {c["group"] for c in doc["checks"]} & {"roundtrip", "cors"}


def test_list_names_every_registered_check(env):
    result = run_manage("r2_check", "--list", env=env)
    assert result.returncode == 0
    for check_id in REGISTRY:
        assert check_id in result.stdout


def test_junit_is_valid_xml_with_a_case_per_check(env):
    env["AWS_STORAGE_BUCKET_NAME"] = f"missing-{uuid.uuid4().hex[:12]}"
    result = run_manage("r2_check", "--format", "junit", env=env)
    assert result.returncode == 1
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests")) > 0
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None) > 0


def test_text_report_names_failures_and_their_fix(env):
    env["AWS_STORAGE_BUCKET_NAME"] = f"missing-{uuid.uuid4().hex[:12]}"
    result = run_manage("r2_check", env=env)
    assert result.returncode == 1
    assert "FAIL  r2.connectivity.head_bucket" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("FAILED:")


def test_hanging_endpoint_cannot_hold_the_run_past_the_deadline(env):
    with HangingServer() as hanging:
        env["AWS_S3_ENDPOINT_URL"] = hanging.url
        started = time.monotonic()
        result, doc = run_json("--timeout", "3", env=env)
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 3 + 15  # process start-up and Django import, not the hang
    failed = {c["id"] for c in doc["checks"] if c["status"] == "fail"}
    assert "r2.connectivity.head_bucket" in failed


def test_no_secret_in_any_format(moto_bucket, tmp_path):
    secrets = {
        "AWS_ACCESS_KEY_ID": f"AKSENTINEL{uuid.uuid4().hex[:10].upper()}",
        "AWS_SECRET_ACCESS_KEY": f"sentinel-secret-{uuid.uuid4().hex}",
        "R2_TOOLKIT_TOKEN": f"sentinel-token-{uuid.uuid4().hex}",
        "DJANGO_SECRET_KEY": f"sentinel-django-{uuid.uuid4().hex}",
    }
    env = manage_env(moto_bucket.server, moto_bucket.name, tmp_path, **secrets)
    run_manage("migrate", "-v0", env=env)
    for bucket in (moto_bucket.name, f"missing-{uuid.uuid4().hex[:12]}"):
        env["AWS_STORAGE_BUCKET_NAME"] = bucket
        for fmt in ("text", "json", "junit"):
            result = (
                run_manage("r2_check", "--format", fmt, "--verbose-details", env=env)
                if fmt == "text"
                else run_manage("r2_check", "--format", fmt, env=env)
            )
            output = result.stdout + result.stderr
            assert result.returncode in (0, 1), output
            for name, value in secrets.items():
                assert value not in output, f"{name} leaked in {fmt} output"
