"""The 'connectivity' checks fail for their real causes and pass once fixed:
real moto and s3rver servers for what they can produce, a scripted loopback
server for the answers they cannot (403 AccessDenied, an old Date header)."""

import pytest

from gallery import emulator
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import evaluate
from tests.support.scripted_s3 import ACCESS_DENIED, scripted

R2_ENDPOINT = "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"


def run(check_id, timeout=10):
    """The check's result as r2_check would print it, on a fresh context."""
    return evaluate(REGISTRY[check_id], CheckContext("default", timeout))


def shown(result):
    return f"{result.message}\n{result.hint}\n{result.details}"


# --- credentials ------------------------------------------------------------
def test_credentials_pass_for_a_working_bucket(moto_bucket):
    result = run("r2.connectivity.credentials")
    assert result.status == "pass", shown(result)


@pytest.mark.parametrize(
    "unset, named",
    [
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    ],
)
def test_credentials_name_the_missing_half(settings, unset, named):
    settings.AWS_ACCESS_KEY_ID = "an-access-key-id-value"
    settings.AWS_SECRET_ACCESS_KEY = "a-secret-access-key-value"
    setattr(settings, unset, None)
    result = run("r2.connectivity.credentials")
    assert result.status == "fail"
    assert f"{named} (or" in result.message and "is not" in result.message
    assert "an-access-key-id-value" not in shown(result)
    assert "a-secret-access-key-value" not in shown(result)


def test_no_credentials_anywhere_fails_and_says_what_to_set(settings, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.AWS_ACCESS_KEY_ID = settings.AWS_SECRET_ACCESS_KEY = None
    result = run("r2.connectivity.credentials")
    assert result.status == "fail"
    assert "No credentials" in result.message
    assert "AWS_ACCESS_KEY_ID" in result.hint and "AWS_SECRET_ACCESS_KEY" in result.hint


def test_an_api_token_pasted_as_the_r2_secret_is_flagged(settings):
    settings.AWS_S3_ENDPOINT_URL = R2_ENDPOINT
    settings.AWS_ACCESS_KEY_ID = "a" * 32
    settings.AWS_SECRET_ACCESS_KEY = "T" * 40  # the shape of a Cloudflare API token
    result = run("r2.connectivity.credentials")
    assert result.status == "warn"
    assert "secret 40" in result.message and "T" * 40 not in shown(result)
    settings.AWS_SECRET_ACCESS_KEY = "b" * 64  # the shape R2 issues
    assert run("r2.connectivity.credentials").status == "pass"


# --- HeadBucket ---------------------------------------------------------------
def test_head_bucket_passes_on_moto(moto_bucket):
    result = run("r2.connectivity.head_bucket")
    assert result.status == "pass", shown(result)
    assert moto_bucket.name in result.message


@pytest.mark.parametrize("server_fixture", ["moto_server", "s3rver_server"])
def test_missing_bucket_is_told_apart_and_passes_once_created(
    request, settings, make_bucket, server_fixture
):
    server = request.getfixturevalue(server_fixture)
    bucket = make_bucket(server)
    missing = server.new_bucket_name("missing")
    settings.AWS_STORAGE_BUCKET_NAME = missing
    result = run("r2.connectivity.head_bucket")
    assert result.status == "fail"
    assert f"bucket {missing}" in result.message and "does not exist (404)" in result.message
    assert "AWS_STORAGE_BUCKET_NAME" in result.hint
    bucket.client.create_bucket(Bucket=missing)
    assert run("r2.connectivity.head_bucket").status == "pass"


def test_unknown_access_key_on_s3rver_says_which_key(s3rver_bucket, settings):
    settings.AWS_ACCESS_KEY_ID = "NOT-A-KNOWN-KEY"
    result = run("r2.connectivity.head_bucket")
    assert result.status == "fail"
    assert "(403)" in result.message and "access key id is not known" in result.message
    assert "AWS_ACCESS_KEY_ID" in result.hint
    assert "NOT-A-KNOWN-KEY" not in shown(result)
    settings.AWS_ACCESS_KEY_ID = s3rver_bucket.server.access_key
    assert run("r2.connectivity.head_bucket").status == "pass"


def error(code):
    return (403, f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode())


@pytest.mark.parametrize(
    "answer, cause, fix",
    [
        (ACCESS_DENIED, "no permission on bucket scripted", "Object Read & Write"),
        (error("SignatureDoesNotMatch"), "secret key does not match", "AWS_SECRET_ACCESS_KEY"),
        (error("RequestTimeTooSkewed"), "clock is too far", "timedatectl"),
    ],
)
def test_forbidden_head_bucket_names_its_cause(settings, answer, cause, fix):
    # HeadBucket's 403 has no body (as on R2); the listing's error names the cause.
    with scripted(settings, {("HEAD", ""): (403, b""), ("GET", "list-type"): answer}):
        result = run("r2.connectivity.head_bucket")
    assert result.status == "fail"
    assert "(403)" in result.message and cause in result.message
    assert fix in result.hint


def test_unreachable_endpoint_fails_in_words(settings, moto_bucket):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{emulator.free_port()}"  # nothing listens
    result = run("r2.connectivity.head_bucket")
    assert result.status == "fail"
    assert result.message.startswith("Nothing answers at http://127.0.0.1:")
    assert "AWS_S3_ENDPOINT_URL" in result.hint
    assert "Traceback" not in shown(result)


def test_unset_bucket_fails_with_the_setting_to_set(settings, moto_bucket):
    settings.AWS_STORAGE_BUCKET_NAME = None
    result = run("r2.connectivity.head_bucket")
    assert result.status == "fail"
    assert "AWS_STORAGE_BUCKET_NAME is not set" in result.message


# --- clock skew ----------------------------------------------------------------
def test_clock_agrees_with_a_real_server(moto_bucket):
    result = run("r2.connectivity.clock_skew")
    assert result.status == "pass", shown(result)
    assert abs(result.details["skew_seconds"]) <= 300


def test_clock_an_hour_off_fails_and_passes_once_synchronised(settings):
    with scripted(settings, clock_offset=-3600) as server:
        result = run("r2.connectivity.clock_skew")
        assert result.status == "fail"
        assert "60 minutes ahead of the server's" in result.message
        assert "15 minutes" in result.message and "timedatectl" in result.hint
        server.clock_offset = 0
        assert run("r2.connectivity.clock_skew").status == "pass"


def test_clock_skew_is_read_from_a_refused_head_bucket_too(settings):
    # A skewed clock is itself a cause of 403s: the check must still see it.
    with scripted(settings, {("HEAD", ""): (403, b"")}, clock_offset=2 * 3600):
        result = run("r2.connectivity.clock_skew")
    assert result.status == "fail"
    assert "behind the server's" in result.message


def test_clock_check_skips_when_the_server_does_not_answer(settings, moto_bucket):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{emulator.free_port()}"
    result = run("r2.connectivity.clock_skew")
    assert result.status == "skip"
    assert "r2.connectivity.head_bucket" in result.message
