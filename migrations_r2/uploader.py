"""Putting one file into the bucket without ever overwriting anything.

``PUT`` with ``If-None-Match: *``, one request per new object, whose
answer is the verification: the native path (native.py) signs the body's
SHA-256, which R2 and S3 check before storing anything; boto3 sends
``Content-MD5``, and a 200 whose ETag is not the file's MD5 fails the row
(for servers that ignore Content-MD5). On 412 the key exists: HEAD it,
adopt it when it holds the same bytes, record a conflict when it does not. Servers that
ignore If-None-Match (s3rver 3.7.1 silently overwrites) are found by the
run's first upload (see IfNoneMatch); on those, every PUT is preceded by a
HEAD. Files bigger than probe.STREAM_THRESHOLD go multipart (multipart.py).

Transient answers are retried under retries.py's policy. A retried PUT
whose first attempt did land meets 412 and is adopted: it is the same file.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from r2_toolkit.core.errors import describe, is_precondition_failed
from r2_toolkit.migrations_r2 import multipart
from r2_toolkit.migrations_r2.retries import (
    RETRIES,
    RetryPolicy,
    head_or_none,
    is_transient,
    with_retries,
)

if TYPE_CHECKING:  # for the annotations only (the audit imports this module, not Pillow)
    from r2_toolkit.migrations_r2.native import Head, NativePut
    from r2_toolkit.migrations_r2.probe import ProbedFile

log = logging.getLogger("r2_toolkit.backfill")

MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
Params = Mapping[str, Any]  # PutObject parameters (Cache-Control, …), boto3's names


@dataclass(frozen=True)
class Outcome:
    status: str  # "uploaded" | "adopted" | "failed"
    reason: str = ""
    error: Exception | None = None  # what failed the upload, when a request did


class IfNoneMatch:
    """Whether the server refuses a PUT of an existing key with
    ``If-None-Match: *``: known for endpoints documented to honour it (R2, AWS
    S3), else learnt from the run's first real upload, which is sent after a
    HEAD and then once more, conditionally: a 412 proves it. A server that
    ignores the header just stores the same bytes again, and every later
    upload is preceded by a HEAD. No probe object, nothing to clean up."""

    TRIES = 3  # first uploads that may fail to tell before assuming the worst

    def __init__(self, honoured: bool | None = None) -> None:
        self.honoured = honoured  # True, False or None (not known yet)
        self.lock = threading.Lock()
        self.busy = False  # an upload is finding out
        self.failures = 0

    def claim(self) -> bool:
        """Whether this upload should be the one that finds out."""
        with self.lock:
            if self.honoured is not None or self.busy:
                return False
            self.busy = True
            return True

    def learnt(self, honoured: bool | None) -> None:
        """``honoured``: True or False, or None when the answer told nothing."""
        with self.lock:
            self.busy = False
            if honoured is None:
                self.failures += 1
                if self.failures < self.TRIES:
                    return
                honoured = False  # the safe assumption: HEAD before every PUT
            if self.honoured is None:
                self.honoured = honoured
                log.info(
                    "the server %s If-None-Match: *%s",
                    "honours" if honoured else "ignores",
                    "" if honoured else "; every upload is preceded by a HEAD",
                )

    def seen_412(self) -> None:
        """Any 412 to a conditional PUT proves the server honours the header."""
        if self.honoured is None:
            with self.lock:
                self.honoured = True


class Uploader:
    """Uploads probed files to one bucket: through ``native`` (a
    native.NativePut) where it can express the upload, else through the
    boto3 client; HEAD through ``native`` too, GET and multipart through the
    client.
    ``client`` may be a callable returning it, so that a run on the native
    path never builds a boto3 client it does not need."""

    def __init__(
        self,
        client: Any,  # a boto3 S3 client, or a callable returning one
        bucket: str,
        object_parameters: Params,
        *,
        policy: RetryPolicy = RETRIES,
        native: NativePut | None = None,
        if_none_match: IfNoneMatch | None = None,
        asynchronous: bool = False,
    ) -> None:
        self._client = client
        self._client_lock = threading.Lock()
        self.native = native
        self.asynchronous = asynchronous  # native PUTs as coroutines (see upload)
        self.bucket = bucket
        self.object_parameters = dict(object_parameters)
        self.if_none_match = if_none_match or IfNoneMatch(True)
        self.policy = policy
        self.answered = threading.Event()  # the bucket answered an upload of this run
        self.fallbacks: set[str] = set()  # reasons logged for uploads sent through boto3

    @property
    def client(self) -> Any:
        if not hasattr(self._client, "head_object"):  # a factory, called once
            with self._client_lock:
                if not hasattr(self._client, "head_object"):
                    self._client = self._client()
        return self._client

    def upload(
        self, key: str, probed: ProbedFile, object_parameters: Params | None = None
    ) -> Outcome | Coroutine[Any, Any, Outcome]:
        """An Outcome for putting ``probed`` at ``key``; never raises for S3 errors.
        ``object_parameters`` (Cache-Control, …) replace the uploader's defaults.
        With ``asynchronous``, a coroutine giving the Outcome instead, for a
        native.Transport to run: one native PUT waits on its loop, anything
        else (HEAD first, boto3, multipart) runs on its threads."""
        params = self.object_parameters if object_parameters is None else object_parameters
        if not self.asynchronous:
            return self.upload_now(key, probed, params)
        native = self.route(probed, params) if self.if_none_match.honoured is True else None
        if native is not None:
            return self.put_natively(native, key, probed, params)
        return self.upload_in_thread(key, probed, params)

    async def upload_in_thread(self, key: str, probed: ProbedFile, params: Params) -> Outcome:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(
            None, self.upload_now, key, probed, params
        )

    def upload_now(self, key: str, probed: ProbedFile, params: Params) -> Outcome:
        try:
            if self.if_none_match.honoured is not True:
                existing = self.head(key)
                if existing is not None:
                    self.answered.set()
                    return self.compare(key, existing, probed, ours=False)
                outcome = self.put(key, probed, params)
                if outcome.status == "uploaded" and self.if_none_match.claim():
                    self.find_out(key, probed, params)
                return outcome
            return self.put(key, probed, params)
        except Exception as exc:
            return self.failed(exc)

    @staticmethod
    def failed(exc: Exception) -> Outcome:
        return Outcome("failed", f"upload failed: {describe(exc)}", error=exc)

    async def put_natively(
        self, native: NativePut, key: str, probed: ProbedFile, params: Params
    ) -> Outcome:
        """``put`` for one in-memory body through ``native``, as a coroutine."""
        import asyncio  # imported by the transport already: no start-up cost

        attempts = 0
        try:
            for attempt in range(self.policy.attempts):
                attempts += 1
                try:
                    etag = await native.put_async(key, probed.body, probed.mime_type, params)
                    break
                except Exception as exc:
                    if not is_transient(exc) or attempt == self.policy.attempts - 1:
                        raise
                    await asyncio.sleep(self.policy.delay(attempt))
            return self.stored(etag, probed, native)
        except ClientError as exc:
            if not is_precondition_failed(exc):
                return self.failed(exc)
            # HEAD (and perhaps GET) on a thread, off the transport's loop.
            return await asyncio.to_thread(self.taken_or_failed, key, probed, attempts)
        except Exception as exc:
            return self.failed(exc)

    def taken_or_failed(self, key: str, probed: ProbedFile, attempts: int) -> Outcome:
        try:
            return self.taken(key, probed, attempts)
        except Exception as exc:
            return self.failed(exc)

    def find_out(self, key: str, probed: ProbedFile, params: Params) -> None:
        """Send the object just stored once more with If-None-Match: *."""
        try:
            self.send(key, probed, params, self.route(probed, params))
        except ClientError as exc:
            self.if_none_match.learnt(True if is_precondition_failed(exc) else None)
            return
        except Exception:
            self.if_none_match.learnt(None)
            return
        self.if_none_match.learnt(False)  # stored again: the same bytes, ignored header

    def fields(self, key: str, probed: ProbedFile, params: Params) -> dict[str, Any]:
        return dict(
            Bucket=self.bucket,
            Key=key,
            ContentType=probed.mime_type,
            ContentMD5=probed.content_md5,
            ContentLength=probed.size,
            IfNoneMatch="*",
            **params,
        )

    def route(self, probed: ProbedFile, params: Params) -> NativePut | None:
        """The NativePut for this upload, or None (with the reason logged once)."""
        if self.native is None or probed.body is None:
            return None
        reason = self.native.refuses(params)
        if reason is not None and reason not in self.fallbacks:
            self.fallbacks.add(reason)
            log.info("uploading through boto3 where the object parameters hold %s", reason)
        return None if reason else self.native

    def send(
        self, key: str, probed: ProbedFile, params: Params, native: NativePut | None
    ) -> tuple[str, int]:
        """One conditional PUT through ``native`` (or boto3 when None), retried:
        (the stored ETag, the attempts it took). A ClientError raised carries
        ``attempts`` too."""
        attempts: list[int] = []

        def attempt() -> str:
            attempts.append(1)
            if native is not None:
                return native.put(key, probed.body, probed.mime_type, params)
            with probed.open() as body:
                answer = self.client.put_object(Body=body, **self.fields(key, probed, params))
            return answer.get("ETag", "").strip('"')

        try:
            return with_retries(attempt, self.policy), len(attempts)
        except ClientError as exc:
            exc.attempts = len(attempts)
            raise

    def put(self, key: str, probed: ProbedFile, params: Params) -> Outcome:
        if probed.body is None:
            return self.put_multipart(key, probed, params)
        native = self.route(probed, params)
        try:
            etag, _ = self.send(key, probed, params, native)
        except ClientError as exc:
            if not is_precondition_failed(exc):
                raise
            return self.taken(key, probed, getattr(exc, "attempts", 1))
        return self.stored(etag, probed, native)

    def stored(self, etag: str, probed: ProbedFile, native: NativePut | None) -> Outcome:
        """The Outcome of a PUT the server accepted with ``etag``. A body sent
        with its SHA-256 signed was checked by the server itself; otherwise an
        MD5 ETag must be the file's (one that is not an MD5, from SSE-KMS or
        SSE-C, proves nothing either way)."""
        self.answered.set()
        if native is not None and native.signs_payload:
            return Outcome("uploaded")
        if MD5_ETAG.match(etag) and etag != probed.md5_hex:
            return Outcome(
                "failed",
                f"the server stored different bytes (ETag {etag}, file MD5 {probed.md5_hex})",
            )
        return Outcome("uploaded")

    def taken(self, key: str, probed: ProbedFile, attempts: int) -> Outcome:
        """The PUT met 412: adopt the object or record a conflict."""
        self.answered.set()
        self.if_none_match.seen_412()
        existing = self.head(key)
        if existing is None:  # deleted between our PUT and HEAD: do not guess
            return Outcome("failed", "the key answered 412 and then vanished; re-run")
        return self.compare(key, existing, probed, ours=attempts > 1)

    def put_multipart(self, key: str, probed: ProbedFile, params: Params) -> Outcome:
        fields = {"ContentType": probed.mime_type, **params}
        try:
            etag, expected = multipart.upload(
                self.client,
                self.bucket,
                key,
                probed.path,
                fields,
                lambda call: with_retries(call, self.policy),
            )
        except ClientError as exc:
            if not is_precondition_failed(exc):
                raise
            return self.taken(key, probed, 1)
        self.answered.set()
        if etag and etag != expected:
            return Outcome(
                "failed", f"the server stored different parts (ETag {etag}, expected {expected})"
            )
        return Outcome("uploaded")

    def head(self, key: str) -> Head | None:
        """HeadObject's response, or None when the key does not exist."""
        if self.native is not None:
            native = self.native
            return with_retries(lambda: native.head(key), self.policy)
        return head_or_none(self.client, self.bucket, key, self.policy)

    def compare(self, key: str, existing: Head, probed: ProbedFile, *, ours: bool) -> Outcome:
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

    def object_md5(self, key: str, existing: Head) -> str:
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
