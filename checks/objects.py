"""Objects already in the bucket, read-only, a sample (not an audit:
``r2_audit`` is that): a HEAD of the few newest objects for their metadata
(``r2.connectivity.object_metadata``), and of the newest names of each target
file field (``r2.objects.sample``): a gate that passes while the site's own
files answer 404 is a defect.

Neither writes anything, so both run in a read-only gate (``--skip
roundtrip``) and on the debug pages.
"""

import functools
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from r2_toolkit.checks import commands
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.checks.runner import Answer, concurrently
from r2_toolkit.checks.schema import require_database
from r2_toolkit.checks.schema_fields import targets_or_skip
from r2_toolkit.core.errors import describe, error_code, http_status
from r2_toolkit.core.files import FileTarget, object_key
from r2_toolkit.core.redact import scrub
from r2_toolkit.core.shell import manage

SAMPLE_SIZE = 5
NEWEST_PER_FIELD = 3
GENERIC_TYPES = {None, "", "binary/octet-stream", "application/octet-stream"}


def head_objects(ctx: CheckContext, keys: Iterable[str]) -> dict[str, Answer[dict[str, Any]]]:
    """{key: (succeeded, HeadObject's answer or its exception)} for ``keys``
    of the context's bucket, asked at once, within the run's timeout."""
    client, bucket = ctx.client(), ctx.bucket
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        key: functools.partial(client.head_object, Bucket=bucket, Key=key) for key in keys
    }
    return concurrently(calls, timeout=ctx.timeout)


def is_missing(exc: BaseException | None) -> bool:
    """Whether a HeadObject error says the object is not there."""
    return http_status(exc) == 404 or error_code(exc) in ("404", "NoSuchKey", "NotFound")


def recent_objects(ctx: CheckContext, storage: Any) -> tuple[list[str], str]:
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


def metadata_problems(
    storage: Any, name: str, head: dict[str, Any]
) -> tuple[list[str], str | None, str | None]:
    """What is wrong with one stored object's headers, in words."""
    problems: list[str] = []
    expected = mimetypes.guess_type(name)[0]
    stored = head.get("ContentType")
    if expected and stored in GENERIC_TYPES:
        problems.append(f"Content-Type {stored!r} instead of {expected!r}")
    wanted_cache = storage.get_object_parameters(name).get("CacheControl")
    if wanted_cache and head.get("CacheControl") != wanted_cache:
        problems.append(f"Cache-Control {head.get('CacheControl')!r} instead of {wanted_cache!r}")
    return problems, expected, wanted_cache


@check("r2.connectivity.object_metadata", kind="network")
def object_metadata(ctx: CheckContext) -> Outcome:
    """Recent objects carry the Content-Type and Cache-Control the settings promise.

    Catches: Objects uploaded by hand or by an old script without a Content-Type (browsers
    download images instead of showing them) or without the Cache-Control of
    AWS_S3_OBJECT_PARAMETERS (the CDN re-fetches them every time).

    Fix: Rewrite the objects' metadata in place (the hint has the command), and upload through
    the storage (or set ContentType and CacheControl yourself) from now on.

    Source: Cloudflare R2 docs, Public buckets and Cache (the object's Cache-Control drives the
    edge cache); jschneier/django-storages issues 451, 24 and 321 (objects stored as
    application/octet-stream)

    A HEAD of the few newest objects: read-only, a sample, not an audit.
    """
    ctx.require_bucket()
    storage = ctx.storage()
    keys, prefix = recent_objects(ctx, storage)
    if not keys:
        return ok(f"Bucket {storage.bucket_name} has no objects yet; none can lack metadata.")
    heads = head_objects(ctx, keys)
    wrong: dict[str, list[str]] = {}
    unanswered: list[str] = []
    fix_type, fix_cache = None, None
    for key in keys:
        answer = heads[key]
        if not answer[0]:
            unanswered.append(key)
            continue
        head = answer[1]
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
    command = commands.rewrite_metadata(
        storage.bucket_name, first, storage.endpoint_url, fix_type, fix_cache
    )
    shown = "; ".join(f"{key}: {', '.join(problems)}" for key, problems in wrong.items())
    return warn(
        f"{len(wrong)} of the {len(keys)} newest objects lack what the settings promise "
        f"({shown}): browsers download images without a Content-Type, and the CDN "
        "re-fetches objects without Cache-Control.",
        scrub(
            f"Rewrite each object's metadata in place, e.g. `{command}`; "
            f"`{manage('r2_audit', '--metadata')}` lists every object that needs it. Upload "
            "through the storage from now on: it sets both."
        ),
        wrong=wrong,
        **details,
    )


# --- the site's own files ----------------------------------------------------


def newest_first(model: Any) -> list[str]:
    """An ordering that puts the newest rows first: the model's get_latest_by,
    else a creation timestamp (auto_now_add), else the highest primary key
    (a UUID primary key says nothing about age)."""
    latest = model._meta.get_latest_by
    if latest:
        fields = [latest] if isinstance(latest, str) else list(latest)
        return [f[1:] if f.startswith("-") else f"-{f}" for f in fields] + ["-pk"]
    created = [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False)]
    return [f"-{name}" for name in created[:1]] + ["-pk"]


def newest_keys(target: FileTarget, count: int = NEWEST_PER_FIELD) -> dict[str, str]:
    """{key: name} of the newest ``count`` names of a target field, the names
    the storage refuses left out."""
    rows = target.named().order_by(*newest_first(target.model))
    names = rows.values_list(target.column, flat=True)[:count]
    found: dict[str, str] = {}
    for name in names:
        key = target.key(name)
        if key:
            found.setdefault(key, name)  # the newest first; a shared name once
    return found


def in_media_root(name: object) -> bool:
    """Whether the legacy file ``name`` is still on local disk (MEDIA_ROOT),
    waiting for the backfill; never looks outside MEDIA_ROOT."""
    if not settings.MEDIA_ROOT:
        return False
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / str(name).lstrip("/")).resolve()
    return path.is_relative_to(root) and path.is_file()


# kind "db": the rows are read on the main thread; the HEADs run on threads.
@check("r2.objects.sample", kind="db")
def sample(ctx: CheckContext) -> Outcome:
    """The newest files of every target file field are in the bucket.

    Catches: A site whose rows name files the bucket does not have (a backfill not run, or run
    against another bucket or location; uploads that went to local disk): every url() of them
    answers 404.

    Fix: Run `python manage.py r2_backfill` (it uploads the legacy files under the names the
    rows hold); `python manage.py r2_audit` lists every row whose object is missing.
    """
    require_database(ctx)
    targets = targets_or_skip(ctx)
    newest = {t.label: newest_keys(t) for t in targets}
    names = {key: name for keys in newest.values() for key, name in keys.items()}
    sampled = {label: list(keys) for label, keys in newest.items() if keys}
    if not sampled:
        raise Skip(f"no target file field on STORAGES[{ctx.alias!r}] has rows yet")
    ctx.require_bucket()
    heads = head_objects(ctx, list(dict.fromkeys(k for keys in sampled.values() for k in keys)))
    missing: dict[str, list[str]] = {}
    unanswered: dict[str, str] = {}
    for label, keys in sampled.items():
        for key in keys:
            answer = heads[key]
            if answer[0]:
                continue
            if is_missing(answer[1]):
                missing.setdefault(label, []).append(key)
            else:
                unanswered[key] = describe(answer[1])
    total = sum(len(keys) for keys in sampled.values())
    details = {"sampled": sampled}
    if missing:
        shown = "; ".join(f"{label}: {', '.join(keys)}" for label, keys in missing.items())
        waiting = sum(1 for keys in missing.values() for key in keys if in_media_root(names[key]))
        if waiting:
            shown += f"; {waiting} of them still in MEDIA_ROOT, waiting for the backfill"
        alias = [] if ctx.alias == "default" else ["--storage", ctx.alias]
        fields = [w for label in missing for w in ("--field", label)]
        return fail(
            f"{sum(map(len, missing.values()))} of the {total} newest file(s) sampled are not "
            f"in bucket {ctx.bucket} ({shown}): the site's own files answer 404.",
            f"Upload them: `{manage('r2_backfill', *alias, *fields)}` copies the legacy files "
            "(from MEDIA_ROOT) under the names the rows hold; "
            f"`{manage('r2_audit', *alias)}` lists every row whose object is missing.",
            missing=missing,
            **details,
        )
    if unanswered:
        raise Skip(
            "HeadObject did not answer for "
            + "; ".join(f"{key}: {why}" for key, why in unanswered.items())
        )
    return ok(
        f"The {total} newest file(s) of {len(sampled)} file field(s) are in bucket {ctx.bucket}.",
        **details,
    )
