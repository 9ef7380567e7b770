"""Checks of the 'roundtrip' group: one real probe through the storage API
the app uses, as a user's upload and a browser's view would go.

The probe runs once per storage alias (whichever check asks first runs it;
the others wait and read their own step): save a small PNG under
R2_TOOLKIT["PROBE_PREFIX"], find it, read it back, check its headers, fetch
its url() anonymously (through the custom domain when there is one) and
compare the custom domain's CORS answers with the S3 host's, upload a second
one with a presigned PUT as a browser would, then delete both and check they
are gone; the independent requests at once (see :class:`RoundTrip`). The deletion runs in a
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

from botocore.exceptions import ClientError
from django.core.files.base import ContentFile

from r2_toolkit.checks import commands, cors_rules
from r2_toolkit.checks.cors import NO_ORIGINS, live_verdict, object_url
from r2_toolkit.checks.registry import check, fail, ok, skip, warn
from r2_toolkit.checks.runner import concurrently
from r2_toolkit.checks.storages import BROKEN_EXISTS
from r2_toolkit.toolkit.core.compat import installed_version
from r2_toolkit.toolkit.core.errors import describe, error_code
from r2_toolkit.toolkit.core.files import object_key
from r2_toolkit.toolkit.core.http import fetch, s3_error
from r2_toolkit.toolkit.core.redact import redact_url, scrub

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
    from PIL import Image, PngImagePlugin  # here: a plain manage.py command needs no Pillow

    info = PngImagePlugin.PngInfo()
    info.add_text("r2-toolkit-probe", token)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (246, 130, 31)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class RoundTrip:
    """One probe of one storage alias; ``outcomes`` maps step -> Outcome.

    The requests that do not depend on each other go out together, so the probe
    costs four round trips, not a dozen: (1) the upload and the presigned PUT;
    (2) everything that reads the uploaded probe back (exists, size, read, its
    headers, the public URL, the public domain's CORS answers) and the presigned
    object's HEAD; (3) the deletes; (4) the check that both are gone.
    """

    def __init__(self, ctx):
        self.ctx = ctx
        self.storage = ctx.storage()
        ctx.client()  # built once, here, before the threads that share it
        self.token = uuid.uuid4().hex
        self.png = probe_png(self.token)
        self.name = f"{ctx.toolkit.PROBE_PREFIX}{self.token}.png"
        self.presigned_name = f"{ctx.toolkit.PROBE_PREFIX}{self.token}-presigned.png"
        self.created = []  # storage names that may exist in the bucket
        self.timings = {}
        self.outcomes = {}
        self.fetched = {}  # request name -> (succeeded, value or exception)

    # --- plumbing ------------------------------------------------------
    @contextlib.contextmanager
    def timed(self, label):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[label] = round((time.perf_counter() - started) * 1000, 1)

    def timed_call(self, label, call):
        def run():
            with self.timed(label):
                return call()

        return run

    def got(self, name):
        """What request ``name`` answered; re-raises what it raised."""
        succeeded, value = self.fetched[name]
        if not succeeded:
            raise value
        return value

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
            # Recorded before writing: a write that fails half-way may still land.
            self.created = [self.name, self.presigned_name]
            self.fetched = concurrently(
                {
                    "save": self.timed_call("save_ms", self.save),
                    "presigned_put": self.timed_call("presigned_put_ms", self.send_presigned_put),
                }
            )
            self.fetched.update(concurrently(self.reads()))
            self.step("upload", self.upload)
            self.step("headers", self.headers, after=["upload"])
            self.step("public_url", self.public_url, after=["upload"])
            self.step("public_cors", self.public_cors, after=["upload"])
            self.step("presigned_put", self.presigned_put)
        finally:
            self.step("cleanup", self.cleanup)
        return self

    def reads(self):
        """The requests of phase 2: whatever can be asked once the writes answered."""
        calls = {}
        if self.fetched["save"][0]:
            saved = self.got("save")
            client, bucket, key = self.ctx.client(), self.storage.bucket_name, self.key(saved)
            calls.update(
                exists=self.timed_call("exists_ms", lambda: self.storage.exists(saved)),
                size=self.timed_call("size_ms", lambda: self.storage.size(saved)),
                read=self.timed_call("read_ms", lambda: self.read(saved)),
                head=self.timed_call("head_ms", lambda: client.head_object(Bucket=bucket, Key=key)),
                public=self.timed_call("public_get_ms", lambda: self.public_get(saved)),
            )
            for origin in self.public_origins():
                calls[f"cors {origin}"] = self.timed_call(
                    "public_cors_ms", lambda origin=origin: self.cors_answers(saved, origin)
                )
        if self.fetched["presigned_put"][0] and self.got("presigned_put")[0] in (200, 201, 204):
            presigned_key = self.key(self.presigned_name)
            calls["presigned_head"] = self.timed_call(
                "presigned_head_ms",
                lambda: self.ctx.client().head_object(
                    Bucket=self.storage.bucket_name, Key=presigned_key
                ),
            )
        return calls

    def reachable(self):
        """Whether the bucket answers HeadBucket (asked once per run, shared)."""
        try:
            self.ctx.head_bucket()
            return True
        except Exception:
            return False

    def result(self, step):
        """The outcome of ``step`` with the probe's timings in its details."""
        outcome = self.outcomes[step]
        return dataclasses.replace(
            outcome, details={**outcome.details, "steps": dict(self.timings)}
        )

    # --- the requests --------------------------------------------------
    def save(self):
        saved = self.storage.save(self.name, ContentFile(self.png))
        self.created[0] = self.name = saved
        return saved

    def read(self, name):
        with self.storage.open(name, "rb") as stored:
            return stored.read()

    def public_get(self, name):
        url = self.storage.url(name)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        return fetch(request, self.ctx.timeout)

    def send_presigned_put(self):
        url = self.ctx.client().generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.storage.bucket_name,
                "Key": self.key(self.presigned_name),
                "ContentType": PNG,
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        headers = {"Content-Type": PNG, "User-Agent": USER_AGENT}
        if self.origin:
            headers["Origin"] = self.origin  # as the browser sends it
        request = urllib.request.Request(url, data=self.png, method="PUT", headers=headers)
        return fetch(request, self.ctx.timeout)

    @property
    def origin(self):
        return next(iter(self.ctx.toolkit.CORS_ORIGINS), None)

    def public_origins(self):
        """The browser origins whose view of the public domain is compared with
        the S3 host's: only with a custom domain in front of the bucket."""
        if not self.storage.custom_domain:
            return []
        found = (cors_rules.normalize_origin(o) for o in self.ctx.toolkit.CORS_ORIGINS)
        return [o for o in dict.fromkeys(found) if o]

    def preflight_urls(self):
        """(through the public domain, at the S3 host) of a key that need not exist."""
        public = self.storage.url(f"{self.ctx.toolkit.PROBE_PREFIX}cors-preflight")
        return public, object_url(self.ctx)

    def cors_answers(self, name, origin):
        """What a browser on ``origin`` gets from the public domain and from the S3
        host, all asked at once: (allowed, reason) of a GET preflight to each (at a
        key that need not exist, as cors.object_url does: some servers refuse
        preflights of existing objects to anonymous callers) and the
        Access-Control-Allow-Origin of a GET of the probe through the public domain."""
        public_url = self.storage.url(name)
        public_preflight, s3_preflight = self.preflight_urls()
        timeout = self.ctx.timeout

        def public_get():
            request = urllib.request.Request(
                public_url, headers={"User-Agent": USER_AGENT, "Origin": origin}
            )
            status, headers, _ = fetch(request, timeout, limit=0)
            return status, headers.get("Access-Control-Allow-Origin")

        answers = concurrently(
            {
                "public": lambda: live_verdict(public_preflight, origin, timeout, "GET", ()),
                "s3": lambda: live_verdict(s3_preflight, origin, timeout, "GET", ()),
                "get": public_get,
            }
        )

        def verdict(name):
            succeeded, value = answers[name]
            return value if succeeded else (False, f"the request failed: {describe(value)}")

        succeeded, got = answers["get"]
        return {
            "public": verdict("public"),
            "s3": verdict("s3"),
            "get": got if succeeded else (None, None),
        }

    # --- the steps: verdicts on what the requests answered ---------------
    def upload(self):
        if not self.fetched["save"][0] and not self.reachable():
            self.created = []  # nothing can have landed in a bucket that does not answer
            try:
                self.ctx.head_bucket()
            except Exception as exc:
                return fail(
                    f"No round-trip: the bucket {self.storage.bucket_name!r} cannot be "
                    f"reached: {describe(exc)}",
                    BUCKET_HINT,
                )
        try:
            saved = self.got("save")
        except ClientError as exc:
            if error_code(exc) != "NotImplemented":
                raise
            return fail(
                f"The store refused the upload: {describe(exc)}",
                "The upload carries a parameter the store does not implement: remove it from "
                "AWS_S3_OBJECT_PARAMETERS (see r2.settings.object_parameters).",
            )
        details = {"object": self.key(saved), "bytes": len(self.png)}
        if not self.got("exists"):
            return fail(
                f"The probe was saved as {details['object']}, but exists() does not find it"
                + exists_cause(self.storage),
                WRITE_HINT,
                **details,
            )
        size = self.got("size")
        if size != len(self.png):
            return fail(
                f"The probe was saved with {len(self.png)} bytes, but size() says {size}",
                "Something between the app and the bucket changes uploads (gzip, a "
                "proxy, a transform): check object_parameters and the endpoint.",
                **details,
            )
        if sha256(self.got("read")) != sha256(self.png):
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
        head = self.got("head")
        stored_type = head.get("ContentType")
        stored_cache = head.get("CacheControl")
        parameters = self.storage.get_object_parameters(self.name)
        wanted_cache = parameters.get("CacheControl")
        details = {"object": key, "content_type": stored_type, "cache_control": stored_cache}
        if stored_type != PNG:
            forced = parameters.get("ContentType")
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
        details = {"url": redact_url(self.storage.url(self.name))}
        try:
            status, headers, body = self.got("public")
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
        served_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        details["content_type"] = served_type
        if served_type and served_type != PNG:
            return fail(
                f"url() ({details['url']}) serves the probe PNG as {served_type!r}, although "
                f"the bucket stores it as {PNG!r}: something in front of the bucket rewrites "
                "Content-Type, and browsers download images instead of showing them",
                "Look for a Transform Rule, Worker or proxy on the custom domain that sets "
                "Content-Type, and remove it.",
                **details,
            )
        return ok(f"Fetched the probe anonymously from {details['url']} (bytes match).", **details)

    def public_cors(self):
        origins = self.public_origins()
        if not self.storage.custom_domain:
            return skip("No custom domain is set; the S3 host's CORS is r2.cors's concern.")
        if not origins:
            return skip(NO_ORIGINS)
        domain = self.storage.custom_domain
        differ, refused, agreed = [], [], []
        for origin in origins:
            answers = self.got(f"cors {origin}")
            (public_ok, public_why), (s3_ok, _) = answers["public"], answers["s3"]
            _, allow_origin = answers["get"]
            get_ok = allow_origin in (origin, "*")
            if s3_ok and not (public_ok and get_ok):
                why = (
                    public_why
                    if not public_ok
                    else (
                        f"a GET with Origin {origin} got Access-Control-Allow-Origin {allow_origin!r}"
                    )
                )
                differ.append(f"{origin}: the S3 host allows GET, but on {domain} {why}")
            elif not s3_ok and not public_ok:
                refused.append(origin)
            else:
                agreed.append(origin)
        details = {"custom_domain": domain, "origins": origins}
        if differ:
            public_preflight, s3_preflight = self.preflight_urls()
            return fail(
                f"The custom domain answers browsers differently from the S3 host: "
                f"{'; '.join(differ)}.",
                scrub(
                    f"Compare `{commands.curl_preflight(public_preflight, origins[0])}` with "
                    "the same preflight to the S3 host, "
                    f"`{commands.curl_preflight(s3_preflight, origins[0])}`. Then: purge the "
                    "domain's cache (an edge cache may hold a response cached without CORS "
                    "headers; cache rules should vary on Origin); wait 30 seconds after "
                    "changing CORS rules (R2 applies them up to 30 s late); turn off Hotlink "
                    "Protection or a WAF/Transform Rule on the zone that blocks or rewrites "
                    "cross-origin requests."
                ),
                **details,
            )
        if refused:
            return skip(
                f"The bucket's CORS rules let neither host serve GET to {', '.join(refused)}; "
                "see r2.cors.get_allowed.",
                **details,
            )
        return ok(
            f"The custom domain {domain} answers browsers on {', '.join(agreed)} as the S3 "
            "host does (preflight and GET).",
            **details,
        )

    def presigned_put(self):
        key = self.key(self.presigned_name)
        details = {"object": key, "origin": self.origin}
        try:
            status, answer_headers, body = self.got("presigned_put")
        except Exception:
            if not self.reachable():
                return skip("Not tried: the bucket cannot be reached (see r2.roundtrip.upload).")
            raise
        if status not in (200, 201, 204) and not self.reachable():
            return skip("Not tried: the bucket cannot be reached (see r2.roundtrip.upload).")
        details["status"] = status
        if status not in (200, 201, 204):
            code = s3_error(body)[0]
            details["error"] = code
            return fail(
                f"A presigned PUT (as a browser upload does) was refused: {status} {code}".rstrip(),
                SIGNATURE_HINT if code == "SignatureDoesNotMatch" else WRITE_HINT,
                **details,
            )
        head = self.got("presigned_head")
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
        origin = self.origin
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
        if not self.created:
            return skip("Nothing was written, so nothing to delete.")
        keys = [self.key(name) for name in self.created]
        if self.ctx.keep:
            return skip(
                f"--keep: left {', '.join(keys) or 'nothing'} in the bucket for inspection.",
                kept=keys,
            )
        with self.timed("delete_ms"):
            deleted = concurrently(
                {name: lambda n=name: self.storage.delete(n) for name in self.created}
            )
        # Best effort: every object is tried, each failure reported.
        errors = {self.key(n): describe(v) for n, (ok_, v) in deleted.items() if not ok_}
        with self.timed("gone_ms"):
            there = concurrently(
                {name: lambda n=name: self.still_there(n) for name in self.created}
            )
        left = [self.key(n) for n in self.created if there[n][1] is not False]
        details = {"deleted": [k for k in keys if k not in left], "left_behind": left}
        if left:
            why = "; ".join(f"{key}: {reason}" for key, reason in errors.items())
            return fail(
                f"The probe left {len(left)} object(s) behind: {', '.join(left)}"
                + (f" ({why})" if why else " (deleted, yet still there)"),
                "Delete them (e.g. `"
                + commands.remove_object(
                    self.storage.bucket_name, left[0], self.storage.endpoint_url
                )
                + "`) and give the key permission to delete objects. "
                + WRITE_HINT,
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


def exists_cause(storage):
    """Why exists() may deny a file that is there, when the installed version says."""
    if installed_version("django-storages") == BROKEN_EXISTS and storage.file_overwrite:
        return (
            " (django-storages 1.14.4 answers False for every name while file_overwrite is "
            "on; see r2.storages.storages_version)"
        )
    return ""


def probe(ctx):
    """This alias's round-trip, run once however many checks ask for it."""
    return ctx.shared("roundtrip.probe", lambda: RoundTrip(ctx).run())


def step_check(id, step, title, catches, fix, source=""):
    @check(
        id,
        kind="network",
        per_storage=True,
        mutating=True,
        title=title,
        catches=catches,
        fix=fix,
        source=source,
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
public_cors = step_check(
    "r2.roundtrip.public_cors",
    "public_cors",
    title="The custom domain answers browsers as the S3 host does",
    catches="A custom domain that answers differently from the S3 host (an edge cache holding "
    "a response without CORS headers, CORS rules applied up to 30 s late, hotlink protection "
    "or a WAF rule): the public URL fails in the browser while the API works.",
    fix="Purge the custom domain's cache and let cache rules vary on Origin, wait 30 s after "
    "changing CORS rules, and turn off Hotlink Protection or rules that block cross-origin "
    "requests on the zone.",
    source="Cloudflare R2 docs, Configure CORS ('CORS rule propagation can, in rare cases, "
    "take up to 30 seconds') and Public buckets (custom domains go through the zone's cache "
    "and security settings)",
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
