"""Checks of the 'roundtrip' group: one real probe through the storage API
the app uses, as a user's upload and a browser's view would go.

The probe runs once per storage alias (whichever check asks first runs it;
the others wait and read their own step): save a small PNG under
R2_TOOLKIT["PROBE_PREFIX"], find it, read it back, check its headers, fetch
its url() anonymously, upload a second one with a presigned PUT as a browser
would, then delete both and check they are gone. The deletion runs in a
``finally``: nothing is left behind, also when a step fails half-way,
unless ``r2_check --keep`` asks for it.
"""

import contextlib
import dataclasses
import hashlib
import io
import time
import urllib.error
import urllib.request
import uuid

from django.core.files.base import ContentFile
from PIL import Image, PngImagePlugin

from checks.registry import check, fail, ok, skip, warn
from checks.schema import object_key
from toolkit.core.errors import describe, error_code
from toolkit.core.http import fetch, s3_error
from toolkit.core.redact import redact_url, scrub

PNG = "image/png"
# The presigned URL only has to outlive the one PUT made right after signing.
PRESIGN_SECONDS = 300
USER_AGENT = "r2-toolkit-check"

PUBLIC_HINT = (
    "Make the objects publicly readable where url() points: on R2, connect the custom domain "
    "AWS_S3_CUSTOM_DOMAIN to the bucket (Settings > Public access), or allow the r2.dev "
    "subdomain for development; on other S3 stores, a bucket policy granting s3:GetObject to "
    'everyone ("Principal": "*"). If the bucket is meant to be private, set '
    "AWS_QUERYSTRING_AUTH = True and no custom domain, so url() signs."
)
BUCKET_HINT = (
    "Fix what r2.connectivity.head_bucket reports: create the bucket or correct "
    "AWS_STORAGE_BUCKET_NAME (404), or use keys whose token may read and write it (403)."
)
SIGNATURE_HINT = (
    "Set AWS_S3_REGION_NAME (auto on R2) and AWS_S3_SIGNATURE_VERSION = 's3v4', and sign "
    "against the endpoint the browser uploads to."
)
WRITE_HINT = (
    "Give the access key permission to write, read and delete objects in this bucket "
    "(R2: an API token with Object Read & Write on it), and check the storage OPTIONS."
)


def probe_png(token):
    """A real, tiny PNG whose bytes are unique to this run (a text chunk holds
    the token), so a stale cache in front of url() cannot pass for it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("r2-toolkit-probe", token)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (246, 130, 31)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class RoundTrip:
    """One probe of one storage alias; ``outcomes`` maps step -> Outcome."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.storage = ctx.storage()
        self.token = uuid.uuid4().hex
        self.png = probe_png(self.token)
        self.name = f"{ctx.toolkit.PROBE_PREFIX}{self.token}.png"
        self.created = []  # storage names that may exist in the bucket
        self.reachable = False
        self.timings = {}
        self.outcomes = {}

    # --- plumbing ------------------------------------------------------
    @contextlib.contextmanager
    def timed(self, label):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[label] = round((time.perf_counter() - started) * 1000, 1)

    def step(self, name, run, after=()):
        """Run one step unless a step it needs did not pass; never raises."""
        for needed in after:
            if self.outcomes[needed].status != "pass":
                self.outcomes[name] = skip(
                    f"Not tried: the {needed} step did not pass (see r2.roundtrip.{needed})."
                )
                return
        try:
            self.outcomes[name] = run()
        except Exception as exc:
            self.outcomes[name] = fail(
                f"The round-trip's {name} step failed: {describe(exc)}", WRITE_HINT
            )

    def key(self, name):
        return object_key(self.storage, name)

    def run(self):
        try:
            self.step("upload", self.upload)
            self.step("headers", self.headers, after=["upload"])
            self.step("public_url", self.public_url, after=["upload"])
            self.step("presigned_put", self.presigned_put)
        finally:
            self.step("cleanup", self.cleanup)
        return self

    def result(self, step):
        """The outcome of ``step`` with the probe's timings in its details."""
        outcome = self.outcomes[step]
        return dataclasses.replace(
            outcome, details={**outcome.details, "steps": dict(self.timings)}
        )

    # --- the steps -----------------------------------------------------
    def upload(self):
        try:
            self.ctx.head_bucket()
        except Exception as exc:
            return fail(
                f"No round-trip: the bucket {self.storage.bucket_name!r} cannot be "
                f"reached: {describe(exc)}",
                BUCKET_HINT,
            )
        self.reachable = True
        # Recorded before saving: a save that fails half-way may still land.
        self.created.append(self.name)
        with self.timed("save_ms"):
            saved = self.storage.save(self.name, ContentFile(self.png))
        self.created[-1] = self.name = saved
        details = {"object": self.key(saved), "bytes": len(self.png)}
        with self.timed("exists_ms"):
            found = self.storage.exists(saved)
        if not found:
            return fail(
                f"The probe was saved as {details['object']}, but exists() does not find it",
                WRITE_HINT,
                **details,
            )
        with self.timed("size_ms"):
            size = self.storage.size(saved)
        if size != len(self.png):
            return fail(
                f"The probe was saved with {len(self.png)} bytes, but size() says {size}",
                "Something between the app and the bucket changes uploads (gzip, a "
                "proxy, a transform): check object_parameters and the endpoint.",
                **details,
            )
        with self.timed("read_ms"), self.storage.open(saved, "rb") as stored:
            data = stored.read()
        if sha256(data) != sha256(self.png):
            return fail(
                "The probe read back differs from what was saved (SHA-256 mismatch)",
                "Check for gzip in the storage options (AWS_IS_GZIPPED) or a proxy that "
                "rewrites bodies between the app and the bucket.",
                **details,
            )
        return ok(
            f"Saved, found and read back the {len(self.png)}-byte probe "
            f"{details['object']} (SHA-256 matches).",
            **details,
        )

    def headers(self):
        key = self.key(self.name)
        with self.timed("head_ms"):
            head = self.ctx.client().head_object(Bucket=self.storage.bucket_name, Key=key)
        stored_type = head.get("ContentType")
        stored_cache = head.get("CacheControl")
        wanted_cache = self.storage.get_object_parameters(self.name).get("CacheControl")
        details = {"object": key, "content_type": stored_type, "cache_control": stored_cache}
        if stored_type != PNG:
            forced = self.storage.get_object_parameters(self.name).get("ContentType")
            cause = (
                f"object_parameters force ContentType {forced!r}"
                if forced
                else f"{type(self.storage).__name__} sets it"
            )
            return fail(
                f"The probe PNG was stored with Content-Type {stored_type!r}, not "
                f"{PNG!r} ({cause}): browsers would download images instead of "
                "showing them",
                'Remove "ContentType" from object_parameters (AWS_S3_OBJECT_PARAMETERS '
                'or STORAGES OPTIONS["object_parameters"]) so django-storages derives it '
                "from each file name, or fix the storage subclass that overrides it.",
                **details,
            )
        if wanted_cache and stored_cache != wanted_cache:
            return fail(
                f"The probe was stored with Cache-Control {stored_cache!r}, but "
                f"object_parameters ask for {wanted_cache!r}",
                "The store dropped or rewrote Cache-Control: check the storage subclass "
                "and any proxy or transform rule in front of the bucket.",
                **details,
            )
        return ok(
            f"The probe is stored with Content-Type {PNG}"
            + (f" and Cache-Control {stored_cache!r}." if wanted_cache else "."),
            **details,
        )

    def public_url(self):
        url = self.storage.url(self.name)
        details = {"url": redact_url(url)}
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with self.timed("public_get_ms"):
                status, _, body = fetch(request, self.ctx.timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return fail(
                f"url() gave {details['url']}, which could not be fetched: {scrub(str(reason))}",
                "AWS_S3_CUSTOM_DOMAIN (with AWS_S3_URL_PROTOCOL) must resolve and serve "
                "the bucket from this host; check DNS and the domain's connection to "
                "the bucket.",
                **details,
            )
        details["status"] = status
        if status == 403:
            return fail(
                f"An anonymous GET of url() ({details['url']}) answered 403 Forbidden: "
                "the bucket or its custom domain is not public, so browsers cannot load "
                "the images",
                PUBLIC_HINT,
                **details,
            )
        if status == 404:
            return fail(
                f"An anonymous GET of url() ({details['url']}) answered 404 right after "
                "the upload: the URL does not lead to this bucket's objects",
                "Point AWS_S3_CUSTOM_DOMAIN at this bucket (path included, e.g. "
                "host/bucket on path-style servers) and keep AWS_LOCATION out of it: "
                "url() adds the location itself.",
                **details,
            )
        if status != 200:
            return fail(
                f"An anonymous GET of url() ({details['url']}) answered {status}",
                PUBLIC_HINT,
                **details,
            )
        if sha256(body) != sha256(self.png):
            return fail(
                f"url() ({details['url']}) serves other bytes than the probe just saved",
                "The custom domain serves another bucket or a stale cache: point it at "
                "this bucket and bypass caching for missing objects.",
                **details,
            )
        return ok(f"Fetched the probe anonymously from {details['url']} (bytes match).", **details)

    def presigned_put(self):
        if not self.reachable:
            return skip("Not tried: the bucket cannot be reached (see r2.roundtrip.upload).")
        name = f"{self.ctx.toolkit.PROBE_PREFIX}{self.token}-presigned.png"
        key = self.key(name)
        self.created.append(name)
        url = self.ctx.client().generate_presigned_url(
            "put_object",
            Params={"Bucket": self.storage.bucket_name, "Key": key, "ContentType": PNG},
            ExpiresIn=PRESIGN_SECONDS,
        )
        origin = next(iter(self.ctx.toolkit.CORS_ORIGINS), None)
        headers = {"Content-Type": PNG, "User-Agent": USER_AGENT}
        if origin:
            headers["Origin"] = origin  # as the browser sends it
        details = {"object": key, "origin": origin}
        request = urllib.request.Request(url, data=self.png, method="PUT", headers=headers)
        with self.timed("presigned_put_ms"):
            status, answer_headers, body = fetch(request, self.ctx.timeout)
        details["status"] = status
        if status not in (200, 201, 204):
            code = s3_error(body)[0]
            details["error"] = code
            return fail(
                f"A presigned PUT (as a browser upload does) was refused: {status} {code}".rstrip(),
                SIGNATURE_HINT if code == "SignatureDoesNotMatch" else WRITE_HINT,
                **details,
            )
        with self.timed("presigned_head_ms"):
            head = self.ctx.client().head_object(Bucket=self.storage.bucket_name, Key=key)
        if head.get("ContentLength") != len(self.png) or head.get("ContentType") != PNG:
            return fail(
                f"The presigned PUT answered {status}, but the object holds "
                f"{head.get('ContentLength')} bytes of {head.get('ContentType')!r} "
                f"instead of {len(self.png)} bytes of {PNG!r}",
                "Something between the browser and the bucket rewrites uploads: check "
                "proxies and transform rules in front of the endpoint.",
                **details,
            )
        allowed = answer_headers.get("Access-Control-Allow-Origin")
        details["allow_origin"] = allowed
        if origin and allowed not in (origin, "*"):
            return warn(
                f"The presigned PUT from {origin} landed, but the answer carries no "
                f"Access-Control-Allow-Origin for it ({allowed!r}): a browser would "
                "report the upload as failed",
                f"Allow PUT from {origin} in the bucket's CORS rules; r2.cors prints the "
                "corrected rule set.",
                **details,
            )
        return ok(
            f"A presigned PUT{' from ' + origin if origin else ''} landed "
            f"({len(self.png)} bytes, {PNG}).",
            **details,
        )

    def cleanup(self):
        keys = [self.key(name) for name in self.created]
        if not keys:
            return skip("Nothing was written, so nothing to delete.")
        if self.ctx.keep:
            return skip(
                f"--keep: left {', '.join(keys) or 'nothing'} in the bucket for inspection.",
                kept=keys,
            )
        errors = {}
        with self.timed("delete_ms"):
            for name in self.created:
                try:
                    self.storage.delete(name)
                except Exception as exc:  # best effort: try every object, report each
                    errors[self.key(name)] = describe(exc)
        with self.timed("gone_ms"):
            left = [self.key(name) for name in self.created if self.still_there(name)]
        details = {"deleted": [k for k in keys if k not in left], "left_behind": left}
        if left:
            why = "; ".join(f"{key}: {reason}" for key, reason in errors.items())
            return fail(
                f"The probe left {len(left)} object(s) behind: {', '.join(left)}"
                + (f" ({why})" if why else " (deleted, yet still there)"),
                f"Delete them (e.g. `aws s3 rm s3://{self.storage.bucket_name}/"
                f"{left[0]}`) and give the key permission to delete objects. " + WRITE_HINT,
                errors=errors,
                **details,
            )
        return ok(f"Deleted the {len(keys)} probe object(s); none is left.", **details)

    def still_there(self, name):
        try:
            return self.storage.exists(name)
        except Exception as exc:
            # Cannot tell: count it as left behind rather than claim a clean bucket.
            return error_code(exc) not in ("404", "NoSuchKey")


def probe(ctx):
    """This alias's round-trip, run once however many checks ask for it."""
    return ctx.shared("roundtrip.probe", lambda: RoundTrip(ctx).run())


def step_check(id, step, title, catches, fix):
    @check(
        id, kind="network", per_storage=True, mutating=True, title=title, catches=catches, fix=fix
    )
    def run(ctx):
        return probe(ctx).result(step)

    run.__name__ = step
    return run


upload = step_check(
    "r2.roundtrip.upload",
    "upload",
    title="Upload, find and read back a probe through the storage API",
    catches="Uploads that fail, land elsewhere, or come back with another size or other bytes "
    "(permissions, wrong bucket, gzip or a rewriting proxy).",
    fix="Give the access key read/write/delete on the bucket and check the storage OPTIONS.",
)
headers = step_check(
    "r2.roundtrip.headers",
    "headers",
    title="Uploaded images keep Content-Type and Cache-Control",
    catches="Images stored as application/octet-stream (downloaded instead of shown) or "
    "without the configured Cache-Control.",
    fix='Remove a forced "ContentType" from object_parameters; keep "CacheControl" there.',
)
public_url = step_check(
    "r2.roundtrip.public_url",
    "public_url",
    title="url() serves the object to anonymous browsers",
    catches="A bucket or custom domain that is not public (403), a domain pointing at another "
    "bucket (404), or a stale cache serving other bytes.",
    fix="Connect the custom domain to the bucket (R2 public access) or grant public read, and "
    "point AWS_S3_CUSTOM_DOMAIN at it.",
)
presigned_put = step_check(
    "r2.roundtrip.presigned_put",
    "presigned_put",
    title="A browser can upload with a presigned PUT",
    catches="Presigned uploads refused (signature, region, permissions) or not readable by the "
    "page (no Access-Control-Allow-Origin for its origin).",
    fix="Sign with SigV4 and the right region (auto on R2); allow PUT from the site's origins "
    "in the bucket's CORS rules.",
)
cleanup = step_check(
    "r2.roundtrip.cleanup",
    "cleanup",
    title="The round-trip leaves nothing behind",
    catches="Probe objects that could not be deleted (a key without delete permission).",
    fix="Give the access key permission to delete objects, and remove the objects it names.",
)
