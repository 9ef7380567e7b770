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
import io
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from django.core.files.base import ContentFile

from r2_toolkit.checks import cors_rules
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.cors_live import live_verdict, object_url
from r2_toolkit.checks.registry import CheckFunction, Outcome, check, fail, skip
from r2_toolkit.checks.roundtrip_steps import PNG, WRITE_HINT, Verdicts
from r2_toolkit.checks.runner import Answer, concurrently
from r2_toolkit.core.errors import describe
from r2_toolkit.core.files import object_key
from r2_toolkit.core.http import fetch

# The presigned URL only has to outlive the one PUT made right after signing.
PRESIGN_SECONDS = 300
USER_AGENT = "r2-toolkit-check"
T = TypeVar("T")


def probe_png(token: str) -> bytes:
    """A real, tiny PNG whose bytes are unique to this run (a text chunk holds
    the token), so a stale cache in front of url() cannot pass for it."""
    from PIL import Image, PngImagePlugin  # here: a plain manage.py command needs no Pillow

    info = PngImagePlugin.PngInfo()
    info.add_text("r2-toolkit-probe", token)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (246, 130, 31)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


class RoundTrip(Verdicts):
    """One probe of one storage alias; ``outcomes`` maps step -> Outcome.

    The requests that do not depend on each other go out together, so the probe
    costs four round trips, not a dozen: (1) the upload and the presigned PUT;
    (2) everything that reads the uploaded probe back (exists, size, read, its
    headers, the public URL, the public domain's CORS answers) and the presigned
    object's HEAD; (3) the deletes; (4) the check that both are gone.
    """

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.storage = ctx.storage()
        ctx.client()  # built once, here, before the threads that share it
        self.token = uuid.uuid4().hex
        self.png = probe_png(self.token)
        self.name = f"{ctx.toolkit.PROBE_PREFIX}{self.token}.png"
        self.presigned_name = f"{ctx.toolkit.PROBE_PREFIX}{self.token}-presigned.png"
        self.created: list[str] = []  # storage names that may exist in the bucket
        self.timings: dict[str, float] = {}
        self.outcomes: dict[str, Outcome] = {}
        # request name -> (succeeded, value or exception)
        self.fetched: dict[str, Answer[Any]] = {}

    # --- plumbing ------------------------------------------------------
    @contextlib.contextmanager
    def timed(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[label] = round((time.perf_counter() - started) * 1000, 1)

    def timed_call(self, label: str, call: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            with self.timed(label):
                return call()

        return run

    def got(self, name: str) -> Any:
        """What request ``name`` answered; re-raises what it raised."""
        succeeded, value = self.fetched[name]
        if not succeeded:
            raise value
        return value

    def step(self, name: str, run: Callable[[], Outcome], after: Sequence[str] = ()) -> None:
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

    def key(self, name: str) -> str:
        # The probe's names are the toolkit's own, which every storage accepts.
        return cast(str, object_key(self.storage, name))

    def run(self) -> "RoundTrip":
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

    def reads(self) -> dict[str, Callable[[], Any]]:
        """The requests of phase 2: whatever can be asked once the writes answered."""
        calls: dict[str, Callable[[], Any]] = {}
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
                    "public_cors_ms", partial(self.cors_answers, saved, origin)
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

    def reachable(self) -> bool:
        """Whether the bucket answers HeadBucket (asked once per run, shared)."""
        try:
            self.ctx.head_bucket()
            return True
        except Exception:
            return False

    def result(self, step: str) -> Outcome:
        """The outcome of ``step`` with the probe's timings in its details."""
        outcome = self.outcomes[step]
        return dataclasses.replace(
            outcome, details={**outcome.details, "steps": dict(self.timings)}
        )

    # --- the requests --------------------------------------------------
    def save(self) -> str:
        saved = self.storage.save(self.name, ContentFile(self.png))
        self.created[0] = self.name = saved
        return saved

    def read(self, name: str) -> bytes:
        with self.storage.open(name, "rb") as stored:
            return stored.read()

    def public_get(self, name: str) -> tuple[int, Any, bytes]:
        url = self.storage.url(name)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        return fetch(request, self.ctx.timeout)

    def send_presigned_put(self) -> tuple[int, Any, bytes]:
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
    def origin(self) -> str | None:
        return next(iter(self.ctx.toolkit.CORS_ORIGINS), None)

    def public_origins(self) -> list[str]:
        """The browser origins whose view of the public domain is compared with
        the S3 host's: only with a custom domain in front of the bucket."""
        if not self.storage.custom_domain:
            return []
        found = (cors_rules.normalize_origin(o) for o in self.ctx.toolkit.CORS_ORIGINS)
        return [o for o in dict.fromkeys(found) if o]

    def preflight_urls(self) -> tuple[str, str]:
        """(through the public domain, at the S3 host) of a key that need not exist."""
        public = self.storage.url(f"{self.ctx.toolkit.PROBE_PREFIX}cors-preflight")
        return public, object_url(self.ctx)

    def cors_answers(self, name: str, origin: str) -> dict[str, tuple[Any, Any]]:
        """What a browser on ``origin`` gets from the public domain and from the S3
        host, all asked at once: (allowed, reason) of a GET preflight to each (at a
        key that need not exist, as cors_live.object_url does: some servers refuse
        preflights of existing objects to anonymous callers) and the
        Access-Control-Allow-Origin of a GET of the probe through the public domain."""
        public_url = self.storage.url(name)
        public_preflight, s3_preflight = self.preflight_urls()
        timeout = self.ctx.timeout

        def public_get() -> tuple[int, str | None]:
            request = urllib.request.Request(
                public_url, headers={"User-Agent": USER_AGENT, "Origin": origin}
            )
            status, headers, _ = fetch(request, timeout, limit=0)
            return status, headers.get("Access-Control-Allow-Origin")

        calls: dict[str, Callable[[], Any]] = {
            "public": partial(live_verdict, public_preflight, origin, timeout, "GET", ()),
            "s3": partial(live_verdict, s3_preflight, origin, timeout, "GET", ()),
            "get": public_get,
        }
        answers = concurrently(calls)

        def verdict(name: str) -> tuple[bool, str]:
            answer = answers[name]
            if answer[0]:
                return cast(tuple[bool, str], answer[1])
            return False, f"the request failed: {describe(answer[1])}"

        got = answers["get"]
        return {
            "public": verdict("public"),
            "s3": verdict("s3"),
            "get": got[1] if got[0] else (None, None),
        }


def probe(ctx: CheckContext) -> RoundTrip:
    """This alias's round-trip, run once however many checks ask for it."""
    return ctx.shared("roundtrip.probe", lambda: RoundTrip(ctx).run())


def step_check(
    id: str, step: str, title: str, catches: str, fix: str, source: str = ""
) -> CheckFunction:
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
    def run(ctx: CheckContext) -> Outcome:
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
