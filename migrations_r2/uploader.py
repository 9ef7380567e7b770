"""Putting one file into the bucket without ever overwriting anything.

``PUT`` with ``If-None-Match: *`` and ``Content-MD5``: a 200 whose ETag is
the file's MD5 *is* the verification (the server checked the digest), so a
new object costs one request. On 412 the key exists: HEAD it, adopt it when
it holds the same bytes, record a conflict when it does not. Servers that
ignore If-None-Match (s3rver 3.7.1 silently overwrites) are found once per
run with a probe object; on those, every PUT is preceded by a HEAD.

Transient answers (429, 5xx, 409, SlowDown, dropped connections) are retried
with jittered exponential backoff, a bounded number of times; botocore's own
retries are off so the bound is ours. A retried PUT whose first attempt did
land meets 412 and is adopted: it is the same file.
"""

import hashlib
import random
import re
import time
import uuid
from dataclasses import dataclass

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from toolkit.core.errors import describe, error_code, http_status

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
RETRY_CODES = {
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "OperationAborted",
    "ConditionalRequestConflict",
}
MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Outcome:
    status: str  # "uploaded" | "adopted" | "failed"
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt):
        """Full jitter: a random wait up to the exponential bound."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def is_transient(exc):
    if isinstance(exc, ClientError):
        return http_status(exc) in RETRY_STATUSES or error_code(exc) in RETRY_CODES
    return isinstance(exc, (ConnectionError, HTTPClientError, ReadTimeoutError))


def is_missing(exc):
    return isinstance(exc, ClientError) and (
        http_status(exc) == 404 or error_code(exc) in ("404", "NoSuchKey", "NotFound")
    )


def is_precondition_failed(exc):
    return isinstance(exc, ClientError) and (
        http_status(exc) == 412 or error_code(exc) == "PreconditionFailed"
    )


def with_retries(call, policy, sleep=time.sleep):
    """``call()``, retried on transient failures; the last error is raised."""
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or attempt == policy.attempts - 1:
                raise
            sleep(policy.delay(attempt))


def honours_if_none_match(client, bucket, prefix, policy=RetryPolicy()):
    """Whether the server refuses a second PUT of an existing key with
    If-None-Match: *. Writes one probe object under ``prefix`` and removes it.
    Raises the client's exception when the bucket cannot be written."""
    key = f"{prefix}backfill-if-none-match-{uuid.uuid4().hex}"

    def put(body):
        return with_retries(
            lambda: client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*"), policy
        )

    put(b"first")
    try:
        put(b"second")
        return False
    except ClientError as exc:
        if is_precondition_failed(exc):
            return True
        raise
    finally:
        with_retries(lambda: client.delete_object(Bucket=bucket, Key=key), policy)


class Uploader:
    """Uploads probed files to one bucket through one shared client."""

    def __init__(
        self,
        client,
        bucket,
        object_parameters,
        *,
        check_first=False,
        policy=RetryPolicy(),
        direct_put=None,
    ):
        self.client = client
        self.direct_put = direct_put  # a transport.DirectPut for bodies in memory
        self.bucket = bucket
        self.object_parameters = dict(object_parameters)
        self.check_first = check_first  # the server ignores If-None-Match
        self.policy = policy

    def upload(self, key, probed, object_parameters=None):
        """An Outcome for putting ``probed`` at ``key``; never raises for S3 errors.
        ``object_parameters`` (Cache-Control, …) replace the uploader's defaults."""
        params = self.object_parameters if object_parameters is None else object_parameters
        try:
            if self.check_first:
                existing = self.head(key)
                if existing is not None:
                    return self.compare(key, existing, probed, ours=False)
            return self.put(key, probed, params)
        except Exception as exc:
            return Outcome("failed", f"upload failed: {describe(exc)}")

    def put(self, key, probed, params):
        attempts = []
        fields = dict(
            Bucket=self.bucket,
            Key=key,
            ContentType=probed.mime_type,
            ContentMD5=probed.content_md5,
            ContentLength=probed.size,
            IfNoneMatch="*",
            **params,
        )
        direct = self.direct_put
        if direct is not None and (probed.body is None or not direct.accepts(params)):
            direct = None  # streamed from disk, or parameters only the client can send

        def attempt():
            attempts.append(1)
            if direct is not None:
                return direct(Body=probed.body, **fields)
            with probed.open() as body:
                return self.client.put_object(Body=body, **fields)

        try:
            response = with_retries(attempt, self.policy)
        except ClientError as exc:
            if not is_precondition_failed(exc):
                raise
            existing = self.head(key)
            if existing is None:  # deleted between our PUT and HEAD: do not guess
                return Outcome("failed", "the key answered 412 and then vanished; re-run")
            return self.compare(key, existing, probed, ours=len(attempts) > 1)
        etag = response.get("ETag", "").strip('"')
        if MD5_ETAG.match(etag) and etag != probed.md5_hex:
            return Outcome(
                "failed",
                f"the server stored different bytes (ETag {etag}, file MD5 {probed.md5_hex})",
            )
        return Outcome("uploaded")

    def head(self, key):
        """HeadObject's response, or None when the key does not exist."""
        try:
            return with_retries(
                lambda: self.client.head_object(Bucket=self.bucket, Key=key), self.policy
            )
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def compare(self, key, existing, probed, *, ours):
        """Adopt ``existing`` when it holds the file's bytes, else a conflict.
        ``ours``: an earlier attempt of this run may have stored it."""
        if (
            self.object_md5(key, existing) == probed.md5_hex
            and existing.get("ContentLength") == probed.size
        ):
            return Outcome(
                "uploaded" if ours else "adopted",
                "" if ours else "the object already held the same bytes",
            )
        return Outcome(
            "failed",
            "conflict: the key already holds different bytes; the object was left untouched",
        )

    def object_md5(self, key, existing):
        """The object's MD5: its ETag for single-part uploads, else its bytes
        (multipart ETags are not digests of the content)."""
        etag = existing.get("ETag", "").strip('"')
        if MD5_ETAG.match(etag):
            return etag
        digest = hashlib.md5(usedforsecurity=False)
        body = with_retries(
            lambda: self.client.get_object(Bucket=self.bucket, Key=key), self.policy
        )["Body"]
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            digest.update(chunk)
        return digest.hexdigest()
