"""Issue 18 item 5: every bad input to r2_check, r2_backfill and r2_audit is
one sentence on stderr and exit 2 ("could not run"), never a traceback,
never exit 1 (which CI reads as a verdict), never a secret; and nothing is
written. Each input goes through ``manage.py`` in a real process, against
a real S3 server (moto) and a migrated SQLite site with one legacy row."""

import io
import socket
import sqlite3

import pytest
from django.core.management.base import CommandError

from r2_toolkit.core import compat
from r2_toolkit.core.command import ToolkitCommand
from tests.support.servers import manage_env, run_manage

DB_PASSWORD = "db-pass-0f9e8d7c"


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(moto_server, tmp_path_factory):
    """A migrated SQLite site with one legacy row and its file, and a bucket."""
    directory = tmp_path_factory.mktemp("bad-input")
    bucket = moto_server.new_bucket_name("bad-input")
    moto_server.client().create_bucket(Bucket=bucket)
    env = manage_env(moto_server, bucket, directory)
    (directory / "media").mkdir()
    seed = "from gallery.legacy import create_legacy_images; create_legacy_images(1, seed=3)"
    for command in (["migrate", "-v0"], ["shell", "-c", seed]):
        done = run_manage(*command, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    return env, directory


def legacy_rows(directory):
    with sqlite3.connect(directory / "db.sqlite3") as db:
        return db.execute(
            "SELECT count(*) FROM gallery_userimage WHERE storage_key IS NULL"
        ).fetchone()[0]


def secrets_of(env):
    return [env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], DB_PASSWORD]


def assert_could_not_run(result, env, *words):
    output = result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output and "panicked" not in output, output[-3000:]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    for secret in secrets_of(env):
        assert secret not in output


ARGUMENTS = [
    # r2_check --timeout: finite, 0.1 to 86400 seconds
    (["r2_check", "--timeout", "inf"], "from 0.1 to 86400"),
    (["r2_check", "--timeout", "1e309"], "from 0.1 to 86400"),
    (["r2_check", "--timeout", "nan"], "from 0.1 to 86400"),
    (["r2_check", "--timeout", "-1"], "from 0.1 to 86400"),
    (["r2_check", "--timeout", "0"], "from 0.1 to 86400"),
    (["r2_check", "--timeout", "soon"], "from 0.1 to 86400"),
    # r2_audit --grace seconds, --older-than days: finite, up to a century
    (["r2_audit", "--grace", "inf"], "from 0 to 3153600000"),
    (["r2_audit", "--grace", "1e300"], "from 0 to 3153600000"),
    (["r2_audit", "--grace", "nan"], "from 0 to 3153600000"),
    (["r2_audit", "--grace", "-5"], "from 0 to 3153600000"),
    (["r2_audit", "--purge-quarantine", "--older-than", "inf"], "from 0 to 36500"),
    (["r2_audit", "--purge-quarantine", "--older-than", "1e300"], "from 0 to 36500"),
    # r2_backfill: whole numbers in range (the database's own integer range for --limit)
    (["r2_backfill", "--batch-size", "99999999999999999999"], "from 1 to 1000"),
    (["r2_backfill", "--batch-size", "0"], "from 1 to 1000"),
    (["r2_backfill", "--batch-size", "2.5"], "from 1 to 1000"),
    (["r2_backfill", "--workers", "100000"], "from 1 to 512"),
    (["r2_backfill", "--workers", "0"], "from 1 to 512"),
    (["r2_backfill", "--limit", "99999999999999999999"], "from 1 to 9223372036854775807"),
    (["r2_backfill", "--limit", "-3"], "from 1 to 9223372036854775807"),
    (["r2_backfill", "--dry-run", "--batch-size", "1e3"], "from 1 to 1000"),
    (["r2_backfill", "--shard", "0/2"], "out of range"),
    (["r2_backfill", "--shard", "3/2"], "out of range"),
    (["r2_backfill", "--shard", "1/0"], "out of range"),
    (["r2_backfill", "--shard", "1/99999999999999999999"], "N at most 10000"),
    (["r2_backfill", "--shard", "x"], "is not K/N"),
    # an unknown flag is a usage error too: one line, not the usage block
    (["r2_backfill", "--batchsize", "10"], "unrecognized arguments"),
]


@pytest.mark.parametrize("args, words", ARGUMENTS, ids=[" ".join(a) for a, _ in ARGUMENTS])
def test_a_bad_argument_is_one_sentence_naming_the_range(site, args, words):
    env, directory = site
    result = run_manage(*args, env=env)
    assert_could_not_run(result, env, words, "--help")
    assert legacy_rows(directory) == 1


DATABASE_RUNS = [
    ["r2_backfill"],
    ["r2_backfill", "--dry-run"],
    ["r2_backfill", "--verify"],
    ["r2_audit"],
]


@pytest.mark.parametrize("args", DATABASE_RUNS, ids=" ".join)
def test_an_unreachable_database_is_one_sentence(site, args):
    env, _ = site
    env = {
        **env,
        "DATABASE_URL": f"postgres://app:{DB_PASSWORD}@127.0.0.1:{closed_port()}/app",
    }
    result = run_manage(*args, env=env)
    assert_could_not_run(result, env, "DATABASES")


BAD_ENDPOINTS = [
    ("not a url", "is not an http(s) URL with a host name"),
    ("127.0.0.1:9111", "is not an http(s) URL with a host name"),
    ("http://127.0.0.1:99999", "Port out of range"),
    ("http://127.0.0.1:port", "Port could not be cast"),
    ("http://bucket<store>:9000", "holds characters a host name cannot"),  # obstore panicked
    ("http://münchen.example:9000", "xn-- form"),
]
ENDPOINT_RUNS = [
    (["r2_backfill"], {}),
    (["r2_backfill"], {"R2_TOOLKIT_BACKFILL_CLIENT": "boto3"}),
    (["r2_backfill", "--dry-run"], {}),
    (["r2_backfill", "--verify"], {}),
    (["r2_audit"], {}),
    (["r2_audit", "--restore-all"], {}),
]


@pytest.mark.parametrize("endpoint, words", BAD_ENDPOINTS, ids=[e for e, _ in BAD_ENDPOINTS])
@pytest.mark.parametrize(
    "args, extra",
    ENDPOINT_RUNS,
    ids=[" ".join(a) + "".join(f" {v}" for v in e.values()) for a, e in ENDPOINT_RUNS],
)
def test_an_endpoint_no_client_can_use_is_one_sentence(site, args, extra, endpoint, words):
    env, directory = site
    env = {**env, **extra, "AWS_S3_ENDPOINT_URL": endpoint}
    result = run_manage(*args, env=env)
    assert_could_not_run(result, env, "AWS_S3_ENDPOINT_URL", words)
    assert legacy_rows(directory) == 1


@pytest.mark.parametrize("endpoint, words", BAD_ENDPOINTS, ids=[e for e, _ in BAD_ENDPOINTS])
def test_the_gate_fails_the_endpoint_check_by_the_same_rule(site, endpoint, words):
    """r2_check is the gate: a bad endpoint is its verdict (exit 1, the
    r2.settings.endpoint check failing with the setting to write), by the
    rule the other two commands refuse to start with."""
    env, _ = site
    result = run_manage(
        "r2_check", "--only", "r2.settings.endpoint", env={**env, "AWS_S3_ENDPOINT_URL": endpoint}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAIL  r2.settings.endpoint" in result.stdout and words in result.stdout


def real_panic():
    """The exception obstore raises for an endpoint its Rust code cannot parse."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        "bucket",
        endpoint="http://bucket<store>:9000",
        access_key_id="key-id",
        secret_access_key="secret-value",
        region="us-east-1",
    )
    try:
        obstore.head(store, "key")
    except BaseException as exc:  # PanicException derives from BaseException
        return exc
    raise AssertionError("obstore accepted the endpoint")


OPTIONS = {"verbosity": 1, "no_color": True, "force_color": False, "skip_checks": True}


class Panicking(ToolkitCommand):
    def __init__(self, exc):
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self.exc = exc

    def handle(self, *args, **options):
        raise self.exc


def test_a_panic_of_the_native_client_is_the_commands_own_error():
    """The one place a Rust panic is known (compat.is_panic) and the one place
    it becomes exit 2 (ToolkitCommand): the panics the endpoint check prevents
    are not the only ones a pyo3 binding can raise."""
    panic = real_panic()
    assert not isinstance(panic, Exception) and compat.is_panic(panic)
    assert not compat.is_panic(ValueError("request valid"))

    with pytest.raises(CommandError) as raised:
        Panicking(panic).execute(**OPTIONS, traceback=False)

    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith("the native S3 client failed (") and "\n" not in message
    assert 'R2_TOOLKIT["BACKFILL_CLIENT"] = "boto3"' in message


def test_with_traceback_the_maintainer_gets_the_original():
    panic = real_panic()
    with pytest.raises(BaseException) as raised:
        Panicking(panic).execute(**OPTIONS, traceback=True)
    assert raised.value is panic
