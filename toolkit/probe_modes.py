"""What the health probe asks one storage alias: ``R2_TOOLKIT["HEALTH_PROBE"]``.

Each mode is one read, never a write, and fits a kind of token:

- ``head_bucket`` (the default): HeadBucket; a token with bucket-level read;
- ``list``: ListObjectsV2 of one key under the storage's location; a token
  that may list but not HeadBucket (R2's "Object Read only" tokens can list);
- ``get:<name>``: GetObject of one known object, reading at most
  READ_LIMIT bytes and dropping the rest; a token scoped to objects;
- ``public:<name>``: an anonymous GET of ``storage.url(name)``, the public
  domain (or the CDN in front of it), the path users' browsers take; no
  credentials at all.

``<name>`` is the name as the storage knows it (relative to AWS_LOCATION),
as ``HEALTH_PUBLIC_OBJECT`` is; its key is the storage's own rule
(``core.files.object_key``). Every request runs with the probe's own
timeouts and no retries.
"""

import urllib.request

from botocore.config import Config

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.files import object_key
from r2_toolkit.core.http import fetch
from r2_toolkit.core.redact import redact_url

DEFAULT_MODE = "head_bucket"
READ_LIMIT = 64 * 1024  # get:/public: read this much of the object, at most


class ProbeContext(CheckContext):
    """The storage's own client, with timeouts inside the probe's deadline and
    no retries: a retry would only spend the deadline twice."""

    def client_config(self, base: Config | None = None) -> Config:
        limits = Config(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        return base.merge(limits) if base is not None else limits


class ProbeFailed(Exception):
    """The storage answered, but not with what a healthy one answers."""


def mode_for(alias: str) -> str:
    """The probe mode of ``alias``: HEALTH_PROBE's own, or its entry for the alias."""
    configured = toolkit_settings.HEALTH_PROBE
    if isinstance(configured, dict):
        return configured.get(alias, DEFAULT_MODE)
    return configured


def ask(context: CheckContext, mode: str) -> bool:
    """One probe of ``context``'s alias in ``mode``; raises unless it answers well."""
    kind, _, name = mode.partition(":")
    if kind == "head_bucket":
        context.client().head_bucket(Bucket=context.bucket)
    elif kind == "list":
        location = (getattr(context.storage(), "location", "") or "").strip("/")
        extra = {"Prefix": location + "/"} if location else {}
        context.client().list_objects_v2(Bucket=context.bucket, MaxKeys=1, **extra)
    elif kind == "get":
        get_object(context, name)
    elif kind == "public":
        public_get(context, name)
    else:  # conf.probe_mode refuses anything else; this is the last line of defence
        raise ProbeFailed(f"unknown HEALTH_PROBE mode {mode!r}")
    return True


def get_object(context: CheckContext, name: str) -> None:
    key = object_key(context.storage(), name)
    if key is None:
        raise ProbeFailed("the HEALTH_PROBE object name escapes the storage's location")
    body = context.client().get_object(Bucket=context.bucket, Key=key)["Body"]
    try:
        body.read(READ_LIMIT)
    finally:
        body.close()  # the rest is never read: the connection is dropped, not drained


def public_get(
    context: CheckContext, name: str, method: str = "GET", what: str = "HEALTH_PROBE"
) -> bool:
    """GET (or HEAD) ``name`` at the URL browsers get for it; raises unless 2xx.
    Plain HTTP, as a browser would ask: no credentials, redirects followed."""
    url = context.storage().url(name)
    limit = 0 if method == "HEAD" else READ_LIMIT
    status, _, _ = fetch(urllib.request.Request(url, method=method), context.timeout, limit=limit)
    if not 200 <= status < 300:
        raise ProbeFailed(f"the public URL {redact_url(url)} of {what} answered HTTP {status}")
    return True
