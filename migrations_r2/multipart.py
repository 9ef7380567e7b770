"""Files too big to keep in memory for one PUT: a multipart upload read
from disk one part at a time, every part the same size but the last (R2
rejects unequal non-trailing parts), completed with ``If-None-Match: *`` so
that an object which appeared meanwhile is never replaced.

The parts go through boto3 (obstore's conditional put is single-part only).
A failed upload is aborted, so no parts are left to bill; a run killed
between parts leaves an incomplete upload that the bucket's lifecycle rule
for incomplete multipart uploads removes (docs/backfill.md).
"""

import base64
import hashlib
import threading

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
# Big files in flight at once: each holds one part in memory.
CONCURRENT_UPLOADS = threading.BoundedSemaphore(4)


def part_size(size):
    """The part size for ``size`` bytes: 8 MiB, or the smallest whole MiB
    that keeps within S3's 10,000 parts."""
    return max(PART_SIZE, -(-size // (MAX_PARTS * MIB)) * MIB)


def upload(client, bucket, key, path, fields, retrying):
    """Upload the file at ``path`` to ``key``; returns (ETag, the ETag S3
    computes for exactly these parts). ``fields``: CreateMultipartUpload's
    parameters (ContentType, CacheControl, ...). ``retrying(call)`` runs a
    call with the uploader's retries. Raises the client's exception; a 412 on
    completion means the key was taken meanwhile."""
    with CONCURRENT_UPLOADS:
        created = retrying(lambda: client.create_multipart_upload(Bucket=bucket, Key=key, **fields))
        upload_id = created["UploadId"]
        try:
            parts, digests = send_parts(client, bucket, key, upload_id, path, retrying)
            answer = retrying(
                lambda: client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
            )
        except BaseException:
            abort(client, bucket, key, upload_id)
            raise
    expected = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(parts)}"
    return answer.get("ETag", "").strip('"'), expected


def send_parts(client, bucket, key, upload_id, path, retrying):
    parts, digests = [], []
    with open(path, "rb") as stream:
        size = part_size(stream.seek(0, 2))
        stream.seek(0)
        number = 1
        while chunk := stream.read(size):
            digest = hashlib.md5(chunk, usedforsecurity=False).digest()
            answer = retrying(
                lambda chunk=chunk, number=number, digest=digest: client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=base64.b64encode(digest).decode("ascii"),
                )
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            digests.append(digest)
            number += 1
    return parts, digests


def abort(client, bucket, key, upload_id):
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:
        pass  # best effort: the lifecycle rule removes what is left
