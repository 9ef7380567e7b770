"""The round-trip's verdicts: what each step of the probe makes of the
answers its requests got, as outcomes with the hint that fixes them.
:class:`Verdicts` is a mixin of :class:`checks.roundtrip.RoundTrip`, which
sends the requests and registers the checks."""

import hashlib
import urllib.error
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from r2_toolkit.checks import commands
from r2_toolkit.checks.cors import NO_ORIGINS
from r2_toolkit.checks.registry import Outcome, fail, ok, skip, warn
from r2_toolkit.checks.runner import Answer, concurrently
from r2_toolkit.checks.storages import BROKEN_EXISTS
from r2_toolkit.core.compat import installed_version
from r2_toolkit.core.errors import describe, error_code
from r2_toolkit.core.http import s3_error
from r2_toolkit.core.redact import redact_url, scrub

if TYPE_CHECKING:
    from r2_toolkit.checks.context import CheckContext

PNG = "image/png"
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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def exists_cause(storage: Any) -> str:
    """Why exists() may deny a file that is there, when the installed version says."""
    if installed_version("django-storages") == BROKEN_EXISTS and storage.file_overwrite:
        return (
            " (django-storages 1.14.4 answers False for every name while file_overwrite is "
            "on; see r2.storages.storages_version)"
        )
    return ""


class Verdicts:
    """The steps of :class:`checks.roundtrip.RoundTrip`, one method each."""

    # What RoundTrip sets and sends, declared for the checker only.
    ctx: "CheckContext"
    storage: Any  # an S3Storage
    png: bytes
    name: str
    presigned_name: str
    created: list[str]  # storage names that may exist in the bucket
    timings: dict[str, float]
    fetched: dict[str, Answer[Any]]

    if TYPE_CHECKING:

        def got(self, name: str) -> Any: ...
        def key(self, name: str) -> str: ...
        def reachable(self) -> bool: ...
        def timed(self, label: str) -> AbstractContextManager[None]: ...
        def public_origins(self) -> list[str]: ...
        def preflight_urls(self) -> tuple[str, str]: ...
        @property
        def origin(self) -> str | None: ...

    def upload(self) -> Outcome:
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

    def headers(self) -> Outcome:
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

    def public_url(self) -> Outcome:
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

    def public_cors(self) -> Outcome:
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

    def presigned_put(self) -> Outcome:
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

    def cleanup(self) -> Outcome:
        if not self.created:
            return skip("Nothing was written, so nothing to delete.")
        keys = [self.key(name) for name in self.created]
        if self.ctx.keep:
            return skip(
                f"--keep: left {', '.join(keys) or 'nothing'} in the bucket for inspection.",
                kept=keys,
            )
        with self.timed("delete_ms"):
            deleted = concurrently({n: partial(self.storage.delete, n) for n in self.created})
        # Best effort: every object is tried, each failure reported.
        errors = {self.key(n): describe(v) for n, (ok_, v) in deleted.items() if not ok_}
        with self.timed("gone_ms"):
            there = concurrently({n: partial(self.still_there, n) for n in self.created})
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

    def still_there(self, name: str) -> bool:
        try:
            return self.storage.exists(name)
        except Exception as exc:
            # Cannot tell: count it as left behind rather than claim a clean bucket.
            return error_code(exc) not in ("404", "NoSuchKey")
