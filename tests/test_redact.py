"""Redaction: no secret the settings hold survives any output, whatever it is
embedded in, and ordinary configuration values survive untouched."""

import json
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r2_toolkit.core.redact import (
    MASK,
    is_secret_name,
    known_secrets,
    redact,
    redact_url,
    scrub,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Real keys, tokens and passwords: no whitespace or control characters, at
# least the length scrubbing by value needs; some beyond ASCII.
secret_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=8,
    max_size=40,
).filter(lambda s: MASK not in s)
context_text = st.text(max_size=30)
bucket_names = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z")
ordinary_keys = st.sampled_from(["message", "endpoint", "bucket", "detail", "url", "note"])

# Where a secret can sit in the settings.
PLACES = {
    "AWS_SECRET_ACCESS_KEY": lambda s: {"AWS_SECRET_ACCESS_KEY": s},
    "AWS_ACCESS_KEY_ID": lambda s: {"AWS_ACCESS_KEY_ID": s},
    "SECRET_KEY": lambda s: {"SECRET_KEY": s},
    "R2_TOOLKIT TOKEN": lambda s: {"R2_TOOLKIT": {"TOKEN": s}},
    "database password": lambda s: {
        "DATABASES": {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "PASSWORD": s}
        }
    },
    "STORAGES OPTIONS secret_key": lambda s: {
        "STORAGES": {
            "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"secret_key": s}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    },
}

# How a secret reaches an output.
EMBEDDINGS = {
    "plain text": lambda s, a, b: a + s + b,
    "URL path": lambda s, a, b: f"https://media.example.com/{quote(s)}/x.jpg?note={quote(a)}",
    "URL query": lambda s, a, b: f"https://h.example/k?key={quote(s, safe='')}&b={quote(b)}",
    "exception message": lambda s, a, b: str(ValueError(f"{a}: could not use {s!r} {b}")),
    "exception repr": lambda s, a, b: repr(RuntimeError(a, s, b)),
    "JSON dump": lambda s, a, b: json.dumps({"error": f"{a}{s}{b}", "ok": False}),
    "ASCII JSON of a repr": lambda s, a, b: json.dumps(repr({"detail": s})),
}


def leaks(secret, output):
    """Whether ``secret`` can be read back from ``output``."""
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    if secret in text:
        return True
    try:
        decoded = json.loads(text)
    except ValueError:
        return False
    return secret in json.dumps(decoded, ensure_ascii=False)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@PROPERTY
@given(
    secret=secret_text,
    place=st.sampled_from(sorted(PLACES)),
    embedding=st.sampled_from(sorted(EMBEDDINGS)),
    before=context_text,
    after=context_text,
)
def test_no_secret_from_the_settings_survives_scrub_or_redact(
    secret, place, embedding, before, after
):
    with override_settings(**PLACES[place](secret)):
        assert secret in known_secrets()
        output = EMBEDDINGS[embedding](secret, before, after)
        assert not leaks(secret, scrub(output))
        assert not leaks(secret, redact({"checks": [{"message": output, "details": {}}]}))
        assert not leaks(secret, redact({output: "a secret used as a key"}))
        assert not leaks(secret, redact(("tuple", output)))


@PROPERTY
@given(secret=secret_text, key=ordinary_keys)
def test_a_secret_inside_a_url_is_masked_by_redact_url(secret, key):
    with override_settings(AWS_SECRET_ACCESS_KEY=secret):
        url = f"https://acc.r2.cloudflarestorage.com/bucket/{quote(secret)}?{key}={quote(secret)}"
        assert not leaks(secret, redact_url(url))


signature_values = st.text(alphabet="abcdefABCDEF0123456789+/=%", min_size=8, max_size=64)


@PROPERTY
@given(
    signature=signature_values,
    credential=signature_values,
    param=st.sampled_from(
        [
            "X-Amz-Signature",
            "X-Amz-Credential",
            "Signature",
            "AWSAccessKeyId",
            "X-Amz-Security-Token",
        ]
    ),
)
def test_signed_query_strings_are_masked_even_when_the_secret_is_unknown(
    signature, credential, param
):
    url = (
        f"https://bucket.example.net/users/a/images/x.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&{param}={signature}&X-Amz-Expires=3600"
    )
    for output in (
        scrub(url),
        redact_url(url),
        redact({"url": url})["url"],
        scrub(f"GET {url} failed"),
        scrub(json.dumps({"url": url})),
    ):
        assert signature not in output
        assert "users/a/images/x.jpg" in output
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in output


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_real_presigned_urls_lose_their_signature_and_credential(signature_version):
    client = boto3.session.Session(
        aws_access_key_id="AKIDPRESIGNTEST",
        aws_secret_access_key="presign-secret-value",
    ).client(
        "s3",
        endpoint_url="https://acc.r2.cloudflarestorage.com",
        region_name="us-east-1",
        config=Config(signature_version=signature_version),
    )
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k.jpg"})
    signature = url.split("Signature=")[1].split("&")[0]
    for output in (scrub(url), redact_url(url)):
        assert signature not in output and "AKIDPRESIGNTEST" not in output
        assert output.startswith("https://acc.r2.cloudflarestorage.com/b/k.jpg?")


url_safe = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$*",
    min_size=1,
    max_size=30,
)


@PROPERTY
@given(
    user=st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z"),
    password=url_safe,
    host=st.from_regex(r"\A[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}\Z"),
)
def test_url_passwords_are_masked_and_the_rest_survives(user, password, host):
    url = f"postgres://{user}:{password}@{host}:5432/app"
    expected = f"postgres://{user}:{MASK}@{host}:5432/app"
    assert scrub(url, secrets=[]) == expected
    assert scrub(f"could not connect: {url}", secrets=[]) == f"could not connect: {expected}"
    assert redact_url(url) == expected


@PROPERTY
@given(
    bucket=bucket_names,
    key=st.from_regex(r"\Ausers/[a-z]{1,8}/images/[a-z0-9_-]{1,12}\.jpg\Z"),
    account=st.from_regex(r"\A[0-9a-f]{32}\Z"),
)
def test_ordinary_values_survive_untouched(bucket, key, account):
    endpoint = f"https://{account}.r2.cloudflarestorage.com"
    config = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "custom_domain": "media.example.com",
        "querystring_auth": True,
        "signature_version": "s3v4",
        "storage_key": key,
        "public_url": f"https://media.example.com/{key}",
        "region_name": "auto",
        "ids": ["r2.settings.signature", "r2.storages.options"],
    }
    with override_settings(
        AWS_SECRET_ACCESS_KEY="unrelated-secret-value-0001",
        AWS_ACCESS_KEY_ID="unrelated-access-key-0002",
    ):
        assert redact(config) == config
        assert scrub(json.dumps(config)) == json.dumps(config)
        assert redact_url(f"{endpoint}/{bucket}/{key}") == f"{endpoint}/{bucket}/{key}"


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "secret_key",
        "SECRET_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWSAccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "Authorization",
        "TOKEN",
        "PASSWORD",
        "api_key",
        "cloudfront_key",
        "SECRET_KEY_FALLBACKS",
    ],
)
def test_secret_names_are_recognised(name):
    assert is_secret_name(name)
    assert redact({name: "some-value"}) == {name: MASK}


@pytest.mark.parametrize(
    "name",
    [
        "querystring_auth",
        "signature_version",
        "storage_key",
        "bucket_name",
        "endpoint_url",
        "PASSWORD_HASHERS",
        "CSRF_COOKIE_NAME",
        "token_type",
        "SignedHeaders",
    ],
)
def test_ordinary_names_are_not_secrets(name):
    assert not is_secret_name(name)


def test_secret_pairs_in_free_text_are_masked():
    text = (
        "boto said: aws_secret_access_key=abc123XYZ and {'password': 'hunter22'} "
        'and {"token": "t0k3n-value"} but signature_version=s3v4 stays'
    )
    scrubbed = scrub(text, secrets=[])
    assert "abc123XYZ" not in scrubbed and "hunter22" not in scrubbed
    assert "t0k3n-value" not in scrubbed
    assert "signature_version=s3v4" in scrubbed


def test_a_malformed_url_is_scrubbed_not_raised():
    with override_settings(AWS_SECRET_ACCESS_KEY="malformed-url-secret"):
        assert redact_url("http://[::1/malformed-url-secret") == f"http://[::1/{MASK}"


@pytest.mark.parametrize(
    "name, value",
    [
        ("EMAIL_HOST_PASSWORD", "smtp-password-0123456789"),
        ("MAILERS", {"default": {"OPTIONS": {"password": "smtp-password-0123456789"}}}),
    ],
)
def test_mail_passwords_are_masked_from_either_setting(settings, name, value):
    """EMAIL_HOST_PASSWORD where the project sets it, or MAILERS' OPTIONS
    (Django 6.1's replacement); an unset one is not read, so no warning."""
    import warnings

    from r2_toolkit.core.redact import scrub

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert scrub("nothing to hide here") == "nothing to hide here"
    setattr(settings, name, value)
    assert "smtp-password" not in scrub("login with smtp-password-0123456789")
