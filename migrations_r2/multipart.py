"""Files too big to keep in memory for one PUT: a multipart upload read
from disk one part at a time, every part the same size but the last (R2
rejects unequal non-trailing parts), completed with ``If-None-Match: *`` so
that an object which appeared meanwhile is never replaced.

The parts go through boto3 (obstore's conditional put is single-part only).
A failed upload is aborted, so no parts are left to bill; a run killed
between parts leaves an incomplete upload that the bucket's lifecycle rule
for incomplete multipart uploads removes (docs/backfill.md).

A dropped connection is retried like any transient failure; the one retry
that can fail although the work is done, CompleteMultipartUpload after the
server completed it, is recognised by the object's ETag (see complete).
"""

import base64
import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from r2_toolkit.core.errors import error_code, is_missing, is_precondition_failed

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
# Big files in flight at once: each holds one part in memory.
CONCURRENT_UPLOADS = threading.BoundedSemaphore(4)
# ``retrying(call)``: ``call()`` (a boto3 request) with the uploader's retries.
Retrying = Callable[[Callable[[], Any]], Any]
Part = dict[str, Any]  # {"PartNumber": n, "ETag": etag}, as CompleteMultipartUpload takes it


def part_size(size: int) -> int:
    """The part size for ``size`` bytes: 8 MiB, or the smallest whole MiB
    that keeps within S3's 10,000 parts."""
    return max(PART_SIZE, -(-size // (MAX_PARTS * MIB)) * MIB)


class UploadVanished(Exception):
    """The upload ID is gone (NoSuchUpload) and the key does not hold our parts."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(str(error))
        self.error = error


def upload(
    client: Any, bucket: str, key: str, path: str, fields: Mapping[str, Any], retrying: Retrying
) -> tuple[str, str]:
    """Upload the file at ``path`` to ``key``; returns (ETag, the ETag S3
    computes for exactly these parts). ``fields``: CreateMultipartUpload's
    parameters (ContentType, CacheControl, ...). ``retrying(call)`` runs a
    call with the uploader's retries. Raises the client's exception; a 412 on
    completion means the key was taken meanwhile. An upload whose ID vanished
    before it completed (NoSuchUpload: aborted by a lifecycle rule, say) is
    sent once more from the start: its completion is still conditional."""
    with CONCURRENT_UPLOADS:
        try:
            return upload_once(client, bucket, key, path, fields, retrying)
        except UploadVanished:
            pass
        try:
            return upload_once(client, bucket, key, path, fields, retrying)
        except UploadVanished as gone:
            raise gone.error from None


def upload_once(
    client: Any, bucket: str, key: str, path: str, fields: Mapping[str, Any], retrying: Retrying
) -> tuple[str, str]:
    created = retrying(lambda: client.create_multipart_upload(Bucket=bucket, Key=key, **fields))
    upload_id = created["UploadId"]
    try:
        parts, digests = send_parts(client, bucket, key, upload_id, path, retrying)
        expected = multipart_etag(digests)
        etag = complete(client, bucket, key, upload_id, parts, expected, retrying)
    except BaseException:
        abort(client, bucket, key, upload_id)
        raise
    return etag, expected


def multipart_etag(digests: list[bytes]) -> str:
    """The ETag S3 (and R2) give an object completed from parts with these MD5s."""
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def complete(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[Part],
    expected: str,
    retrying: Retrying,
) -> str:
    """CompleteMultipartUpload with If-None-Match: *, retried; the new ETag.

    A retry cannot tell whether the attempt before it landed: when the
    connection drops after the server completed the upload, the retry meets
    NoSuchUpload (the ID is spent) or 412 (the key now exists). Then the key
    is HEADed: holding exactly our parts (the expected ETag) it is ours, done.
    Otherwise a 412 stays a 412 (the uploader compares the bytes) and
    NoSuchUpload is UploadVanished (the caller starts over)."""
    attempts: list[int] = []

    def attempt() -> Any:
        attempts.append(1)
        return client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )

    try:
        return retrying(attempt).get("ETag", "").strip('"')
    except ClientError as exc:
        vanished = error_code(exc) == "NoSuchUpload"
        if not (vanished or (is_precondition_failed(exc) and len(attempts) > 1)):
            raise
        if stored_etag(client, bucket, key, retrying) == expected:
            return expected
        if vanished:
            raise UploadVanished(exc) from None
        raise


def stored_etag(client: Any, bucket: str, key: str, retrying: Retrying) -> str | None:
    """The ETag of the object at ``key``, or None when there is none."""
    try:
        answer = retrying(lambda: client.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    return answer.get("ETag", "").strip('"')


def send_parts(
    client: Any, bucket: str, key: str, upload_id: str, path: str, retrying: Retrying
) -> tuple[list[Part], list[bytes]]:
    parts: list[Part] = []
    digests: list[bytes] = []
    with open(path, "rb") as stream:
        size = part_size(stream.seek(0, 2))
        stream.seek(0)
        number = 1
        while chunk := stream.read(size):
            digest = hashlib.md5(chunk, usedforsecurity=False).digest()

            def send(chunk: bytes = chunk, number: int = number, digest: bytes = digest) -> Any:
                return client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=base64.b64encode(digest).decode("ascii"),
                )

            answer = retrying(send)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            digests.append(digest)
            number += 1
    return parts, digests


def abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:
        pass  # best effort: the lifecycle rule removes what is left
