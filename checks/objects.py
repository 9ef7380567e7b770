"""Objects already in the bucket, as earlier uploads left them: a HEAD of the
few newest, read-only (a sample, not an audit: ``r2_audit --metadata`` is that).

In the 'connectivity' group, not 'roundtrip': it writes nothing, so it runs in
a read-only gate (``--skip roundtrip``) and on the debug pages.
"""

import mimetypes

from r2_toolkit.checks.registry import Skip, check, ok, warn
from r2_toolkit.checks.runner import concurrently
from r2_toolkit.checks.schema import object_key
from r2_toolkit.toolkit.core.redact import scrub

SAMPLE_SIZE = 5
GENERIC_TYPES = {None, "", "binary/octet-stream", "application/octet-stream"}


def recent_objects(ctx, storage):
    """The newest objects under the storage's location (one ListObjectsV2 page),
    the round-trip's own probes left out."""
    location = (storage.location or "").strip("/")
    prefix = f"{location}/" if location else ""
    probe_prefix = object_key(storage, ctx.toolkit.PROBE_PREFIX)
    page = ctx.client().list_objects_v2(Bucket=storage.bucket_name, Prefix=prefix, MaxKeys=1000)
    found = [
        item
        for item in page.get("Contents", [])
        if not item["Key"].startswith(probe_prefix) and not item["Key"].endswith("/")
    ]
    found.sort(key=lambda item: item["LastModified"], reverse=True)
    return [item["Key"] for item in found[:SAMPLE_SIZE]], prefix


def metadata_problems(storage, name, head):
    """What is wrong with one stored object's headers, in words."""
    problems = []
    expected = mimetypes.guess_type(name)[0]
    stored = head.get("ContentType")
    if expected and stored in GENERIC_TYPES:
        problems.append(f"Content-Type {stored!r} instead of {expected!r}")
    wanted_cache = storage.get_object_parameters(name).get("CacheControl")
    if wanted_cache and head.get("CacheControl") != wanted_cache:
        problems.append(f"Cache-Control {head.get('CacheControl')!r} instead of {wanted_cache!r}")
    return problems, expected, wanted_cache


@check(
    "r2.connectivity.object_metadata",
    kind="network",
    title="Recent objects carry the Content-Type and Cache-Control the settings promise",
    catches="Objects uploaded by hand or by an old script without a Content-Type (browsers "
    "download images instead of showing them) or without the Cache-Control of "
    "AWS_S3_OBJECT_PARAMETERS (the CDN re-fetches them every time).",
    fix="Rewrite the objects' metadata in place (the hint has the command), and upload "
    "through the storage (or set ContentType and CacheControl yourself) from now on.",
    source="Cloudflare R2 docs, Public buckets and Cache (the object's Cache-Control drives the "
    "edge cache); jschneier/django-storages issues 451, 24 and 321 (objects stored as "
    "application/octet-stream)",
)
def object_metadata(ctx):
    """A HEAD of the few newest objects: read-only, a sample, not an audit."""
    ctx.require_bucket()
    storage = ctx.storage()
    keys, prefix = recent_objects(ctx, storage)
    if not keys:
        return ok(f"Bucket {storage.bucket_name} has no objects yet; none can lack metadata.")
    client, bucket = ctx.client(), storage.bucket_name
    heads = concurrently(
        {key: lambda k=key: client.head_object(Bucket=bucket, Key=k) for key in keys}
    )
    wrong, unanswered = {}, []
    fix_type, fix_cache = None, None
    for key in keys:
        succeeded, head = heads[key]
        if not succeeded:
            unanswered.append(key)
            continue
        problems, expected, wanted_cache = metadata_problems(storage, key[len(prefix) :], head)
        if problems:
            wrong[key] = problems
            fix_type = fix_type or expected or head.get("ContentType")
            fix_cache = fix_cache or wanted_cache
    details = {"sampled": keys}
    if not wrong:
        if unanswered:
            raise Skip(f"HeadObject did not answer for {', '.join(unanswered)}")
        return ok(
            f"The {len(keys)} newest object(s) carry the Content-Type and Cache-Control the "
            "settings promise.",
            **details,
        )
    first = next(iter(wrong))
    command = (
        f"aws s3 cp s3://{bucket}/{first} s3://{bucket}/{first} --metadata-directive REPLACE"
        + (f" --content-type {fix_type}" if fix_type else "")
        + (f' --cache-control "{fix_cache}"' if fix_cache else "")
        + (f" --endpoint-url {storage.endpoint_url}" if storage.endpoint_url else "")
    )
    shown = "; ".join(f"{key}: {', '.join(problems)}" for key, problems in wrong.items())
    return warn(
        f"{len(wrong)} of the {len(keys)} newest objects lack what the settings promise "
        f"({shown}): browsers download images without a Content-Type, and the CDN "
        "re-fetches objects without Cache-Control.",
        scrub(
            f"Rewrite each object's metadata in place, e.g. `{command}`; "
            "`python manage.py r2_audit --metadata` lists every object that needs it. Upload "
            "through the storage from now on: it sets both."
        ),
        wrong=wrong,
        **details,
    )
