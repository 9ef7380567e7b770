"""Helpers shared by the backfill and audit tests: running the command in-process and
reading back what a user would look at (rows, objects, public URLs)."""

import io
import json
import urllib.request
from dataclasses import dataclass

from django.core.management import call_command
from PIL import Image

from gallery.models import UserImage
from tests.conftest import reset_storage_cache


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_command(name, *args):
    """Run a management command in-process; its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    reset_storage_cache()
    code = 0
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return Outcome(code, out.getvalue(), err.getvalue())


def backfill(*args):
    """Run ``r2_backfill`` in-process; its exit code and output."""
    return run_command("r2_backfill", *args)


def audit(*args):
    """Run ``r2_audit`` in-process; its exit code and output."""
    return run_command("r2_audit", *args)


def report_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def object_bytes(bucket, key):
    return bucket.client.get_object(Bucket=bucket.name, Key=key)["Body"].read()


def keys_in(bucket):
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def assert_row_migrated(row, media_root, bucket, legacy_name=None):
    """Every one of the six fields checked independently of the toolkit, and
    the file name agreeing with the key (a KEY_TEMPLATE renames the rows it
    moves: ``legacy_name`` is then where the local file is)."""
    from django.core.files.storage import default_storage

    from r2_toolkit.core.files import object_key

    local = (media_root / (legacy_name or row.image.name)).read_bytes()
    assert object_key(default_storage, row.image.name) == row.storage_key
    with Image.open(io.BytesIO(local)) as image:
        assert (row.width, row.height) == image.size
        assert row.mime_type == Image.MIME[image.format]
    assert row.size_bytes == len(local)
    assert object_bytes(bucket, row.storage_key) == local
    assert row.public_url.startswith(f"{bucket.public_base}/")
    assert "Signature" not in row.public_url and "X-Amz" not in row.public_url
    assert fetch(row.public_url) == local


def legacy_rows():
    return list(UserImage.objects.filter(storage_key__isnull=True))
