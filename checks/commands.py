"""Every shell command a check's hint shows, built from its values by
:func:`r2_toolkit.core.shell.command`, so each value (object key,
bucket, endpoint, origin, URL, app label) is one quoted argument: a hint is
safe to paste whatever the key (tests/test_checks_hints.py holds every
function here to that, with hostile values)."""

import json

from r2_toolkit.core.shell import command, manage


def migrate(app_label: str | None = None, migration: str | None = None, fake: bool = False) -> str:
    """``python manage.py migrate [--fake] [APP [MIGRATION]]``."""
    words = ["migrate"] + (["--fake"] if fake else [])
    words += [w for w in (app_label, migration) if w]
    return manage(*words)


def makemigrations(app_label: str) -> str:
    return manage("makemigrations", app_label)


def _s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _endpoint_option(endpoint_url: str | None) -> list[str]:
    return ["--endpoint-url", endpoint_url] if endpoint_url else []


def rewrite_metadata(
    bucket: str,
    key: str,
    endpoint_url: str | None = None,
    content_type: str | None = None,
    cache_control: str | None = None,
) -> str:
    """Copy an object onto itself with new Content-Type / Cache-Control."""
    uri = _s3_uri(bucket, key)
    words = ["aws", "s3", "cp", uri, uri, "--metadata-directive", "REPLACE"]
    if content_type:
        words += ["--content-type", content_type]
    if cache_control:
        words += ["--cache-control", cache_control]
    return command(*words, *_endpoint_option(endpoint_url))


def remove_object(bucket: str, key: str, endpoint_url: str | None = None) -> str:
    return command("aws", "s3", "rm", _s3_uri(bucket, key), *_endpoint_option(endpoint_url))


def put_bucket_cors(
    bucket: str, rules: list[dict[str, object]], endpoint_url: str | None = None
) -> str:
    """Set the bucket's CORS rules (``rules``: the S3 CORSRules list) with the AWS CLI."""
    configuration = json.dumps({"CORSRules": rules})
    return command(
        "aws",
        "s3api",
        "put-bucket-cors",
        "--bucket",
        bucket,
        *_endpoint_option(endpoint_url),
        "--cors-configuration",
        configuration,
    )


def wrangler_create_bucket(bucket: str) -> str:
    return command("wrangler", "r2", "bucket", "create", bucket)


def wrangler_set_cors(bucket: str, path: str = "cors.json") -> str:
    return command("wrangler", "r2", "bucket", "cors", "set", bucket, "--file", path)


def wrangler_list_cors(bucket: str) -> str:
    return command("wrangler", "r2", "bucket", "cors", "list", bucket)


def curl_preflight(url: str, origin: str, method: str = "GET") -> str:
    """The preflight a browser on ``origin`` sends before ``method`` on ``url``."""
    return command(
        "curl",
        "-i",
        "-X",
        "OPTIONS",
        "-H",
        f"Origin: {origin}",
        "-H",
        f"Access-Control-Request-Method: {method}",
        url,
    )
