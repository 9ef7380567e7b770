"""Migrated rows and their objects made fast, for the audit's tests and its
benchmark: objects PUT straight through a boto3 client from many threads,
rows written with bulk_create, each row exactly what r2_backfill would have
written for its object (size, public URL as the storage builds it)."""

import hashlib
from concurrent.futures import ThreadPoolExecutor

BODY_BYTES = 64


def body_of(key):
    """A small body of its own for every key (so ETags differ)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return (digest * (BODY_BYTES // len(digest) + 1))[:BODY_BYTES]


def put_objects(client, bucket, keys, threads=10, body=body_of):
    """PUT every key (its ``body``) into ``bucket``, ``threads`` at a time
    (botocore's default pool holds 10 connections)."""

    def put(key):
        client.put_object(Bucket=bucket, Key=key, Body=body(key))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, keys))


def delete_keys(client, bucket, keys):
    keys = list(keys)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
        )


def migrated_rows(user, keys, public_url, body=body_of):
    """Unsaved UserImage rows as r2_backfill leaves them, one per key
    (``public_url(name)``: the storage's URL of a key)."""
    from gallery.models import UserImage

    return [
        UserImage(
            user=user,
            image=key,
            storage_key=key,
            public_url=public_url(key),
            mime_type="image/jpeg",
            width=8,
            height=8,
            size_bytes=len(body(key)),
        )
        for key in keys
    ]


def seed_migrated(client, bucket, keys, user, public_url, *, objects=True, rows=True):
    """Objects and/or migrated rows for ``keys``; the rows (saved)."""
    from gallery.models import UserImage

    if objects:
        put_objects(client, bucket, keys)
    if not rows:
        return []
    return UserImage.objects.bulk_create(migrated_rows(user, keys, public_url), batch_size=1000)
