"""The backfill's native upload path: obstore (the Python binding of the Rust
``object_store`` crate) signs and sends each PutObject off the GIL.

Measured on one machine, 150 KB conditional PUTs, 16 in flight, client CPU
per PUT: boto3 ``put_object`` 1.9 ms, botocore's signer on its own pool
0.84 ms, the AWS CRT's S3 client 0.71 ms, obstore 0.38 ms with the body's
SHA-256 signed (0.27 ms unsigned, but then only an MD5 of the body, 0.23 ms
more on the GIL, would prove what was stored). obstore also says ``If-None-Match: *`` in one word
(``mode="create"``) and answers 412 with its own exception type.

Its configuration is mapped once, here, from the storage's own settings
(the ones django-storages gives boto3): endpoint, credentials with their
session token, region, addressing style, TLS verification and CA bundle,
proxies and timeouts. What it cannot express (SigV2, SSE-C, an ACL, any
PutObject parameter without an obstore attribute) stays with boto3:
:func:`open_native` says why, and :meth:`NativePut.refuses` says why for
one upload's parameters.

Errors come back in the client's shape (``ClientError`` with the code and
HTTP status of the S3 answer, :class:`TransportError` when no answer came), so
the uploader's retry, 412 and conflict logic is the same on both paths.
"""

import threading
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import ClientError

from r2_toolkit.core.compat import obstore_answer
from r2_toolkit.core.errors import describe

if TYPE_CHECKING:  # imported where the native path runs
    import asyncio

T = TypeVar("T")
Params = Mapping[str, Any]  # PutObject parameters, boto3's names (Metadata a dict)
Head = dict[str, Any]  # HeadObject's answer as boto3 shapes it

# PutObject parameters (boto3's names) -> obstore attribute names. Metadata
# entries become user attributes (x-amz-meta-*).
ATTRIBUTES = {
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "ContentType": "Content-Type",
    "StorageClass": "Storage-Class",
}
# obstore's own retries are off: the uploader retries with its own bound.
NO_RETRIES = {
    "max_retries": 0,
    "backoff": {
        "init_backoff": timedelta(milliseconds=100),
        "max_backoff": timedelta(seconds=1),
        "base": 2,
    },
    "retry_timeout": timedelta(seconds=1),
}
CREDENTIALS_TTL = timedelta(minutes=5)  # how often obstore asks botocore again


class Unsupported(Exception):
    """The native client cannot express this configuration; ``str()`` says what."""


class TransportError(Exception):
    """No answer from the server (connection refused or reset, timeout): transient."""


# The effective botocore Config (bucket.open_bucket folds AWS_S3_ADDRESSING_STYLE,
# AWS_S3_PROXIES and AWS_S3_SIGNATURE_VERSION into it, as django-storages does
# when the project sets no AWS_S3_CLIENT_CONFIG) says what boto3 would do.


def signature_version(storage: Any) -> str | None:
    return getattr(storage.client_config, "signature_version", None)


def addressing_style(storage: Any) -> str:
    s3 = getattr(storage.client_config, "s3", None) or {}
    return s3.get("addressing_style") or "auto"


def store_endpoint(endpoint_url: str | None, bucket: str, virtual: bool) -> str | None:
    """The endpoint obstore wants: with virtual hosting, the bucket's own host."""
    if not endpoint_url or not virtual:
        return endpoint_url
    parts = urlsplit(endpoint_url)
    return urlunsplit(parts._replace(netloc=f"{bucket}.{parts.netloc}"))


def trust(verify: bool | str | Path | None) -> dict[str, bool | str]:
    """obstore client options for botocore's ``verify`` (None, a bool or a CA bundle path).
    A CA bundle is added to the system roots, as an operator's private CA is meant."""
    if verify is False:
        return {"allow_invalid_certificates": True}
    if isinstance(verify, str | Path):
        return {"root_certificate": Path(verify).read_text()}
    return {}


def seconds(value: float | str) -> timedelta:
    return timedelta(seconds=float(value))


class Credentials:
    """obstore's credential provider over the credentials boto3 would sign
    with: static keys (and session token) from the settings, else botocore's
    own chain (profile, environment, instance role), refreshed as botocore
    refreshes them."""

    def __init__(self, storage: Any) -> None:
        self.static: tuple[str, str, str | None] | None = None
        if storage.access_key and storage.secret_key and not storage.session_profile:
            self.static = (storage.access_key, storage.secret_key, storage.security_token or None)
        self.profile = storage.session_profile
        self.source: Any = None  # botocore Credentials
        self.lock = threading.Lock()

    def frozen(self) -> tuple[str, str, str | None]:
        if self.static is not None:
            return self.static
        with self.lock:
            if self.source is None:
                import boto3

                self.source = boto3.Session(profile_name=self.profile).get_credentials()
            if self.source is None:
                raise Unsupported("no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        frozen = self.source.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    def __call__(self) -> dict[str, str | datetime | None]:
        key, secret, token = self.frozen()
        expires = None if self.static else datetime.now(UTC) + CREDENTIALS_TTL
        return {
            "access_key_id": key,
            "secret_access_key": secret,
            "token": token,
            "expires_at": expires,
        }


def store_options(storage: Any, bucket: str) -> dict[str, Any]:
    """S3Store keyword arguments for ``storage``; Unsupported with the reason."""
    version = signature_version(storage)
    if version not in (None, "s3v4", "v4"):
        raise Unsupported(f"AWS_S3_SIGNATURE_VERSION is {version!r}; only boto3 signs that")
    config = storage.client_config
    endpoint = storage.endpoint_url
    style = addressing_style(storage)
    # botocore's "auto": virtual hosts on AWS itself, path style on a custom endpoint.
    virtual = style == "virtual" or (style == "auto" and not endpoint)
    scheme = urlsplit(endpoint).scheme if endpoint else "https"
    client: dict[str, Any] = {
        "allow_http": scheme == "http",
        "connect_timeout": seconds(getattr(config, "connect_timeout", None) or 60),
        "timeout": seconds(max(float(getattr(config, "read_timeout", None) or 60), 60) * 5),
        "pool_idle_timeout": timedelta(seconds=30),
        **trust(storage.verify),
    }
    proxies = getattr(config, "proxies", None) or {}
    proxy = proxies.get(scheme) or proxies.get(f"{scheme}://{urlsplit(endpoint or '').hostname}")
    if proxy:
        client["proxy_url"] = proxy
    s3 = getattr(config, "s3", None) or {}
    options: dict[str, Any] = {
        "region": storage.region_name or getattr(config, "region_name", None) or "us-east-1",
        "virtual_hosted_style_request": virtual,
        # The body's SHA-256 is signed unless the Config says not to: R2 and
        # S3 refuse a body that does not match it (XAmzContentSHA256Mismatch),
        # so the upload is verified before anything is stored. With SHA-NI it
        # costs less than half of the MD5 it replaces, and off the GIL.
        "unsigned_payload": s3.get("payload_signing_enabled") is False,
        "client_options": client,
        "retry_config": NO_RETRIES,
        "credential_provider": Credentials(storage),
    }
    if endpoint:
        options["endpoint"] = store_endpoint(endpoint, bucket, virtual)
    return options


def client_error(exc: BaseException, operation: str = "PutObject") -> Exception:
    """An obstore error as the ``ClientError`` botocore would raise for the
    same answer, or TransportError when the server did not answer."""
    answer = obstore_answer(exc)
    if answer is None:
        return TransportError(str(exc).split("\n\nDebug source:", 1)[0])
    status, code, message = answer
    return ClientError(
        {
            "Error": {"Code": code or str(status), "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class NativePut:
    """``put(key, body, content_type, params)`` with If-None-Match: * for one bucket."""

    def __init__(self, store: Any, signs_payload: bool = True) -> None:
        import obstore
        from obstore.exceptions import BaseError

        self.obstore = obstore
        # obstore's NotFoundError and PermissionDeniedError are also OSErrors.
        self.errors = (BaseError, OSError)
        self.store = store
        self.signs_payload = signs_payload  # the server checks each body's SHA-256

    @staticmethod
    def refuses(params: Params) -> str | None:
        """Why ``params`` cannot be sent natively, or None."""
        for name, value in params.items():
            if name == "Metadata":
                if not all(str(k).isascii() and str(v).isascii() for k, v in value.items()):
                    return "metadata that is not ASCII"
            elif name not in ATTRIBUTES:
                return f"the object parameter {name}"
        return None

    @staticmethod
    def attributes(content_type: str, params: Params) -> dict[str, str]:
        attributes = {"Content-Type": content_type}
        for name, value in params.items():
            if name == "Metadata":
                attributes.update({str(k): str(v) for k, v in value.items()})
            else:
                attributes[ATTRIBUTES[name]] = str(value)
        return attributes

    def put_arguments(
        self, key: str, body: bytes | None, content_type: str, params: Params
    ) -> dict[str, Any]:
        """What obstore's put and put_async take for one conditional PUT."""
        return {
            "store": self.store,
            "path": key,
            "file": body,
            "mode": "create",  # If-None-Match: *
            "attributes": self.attributes(content_type, params),
            "use_multipart": False,
        }

    def put(self, key: str, body: bytes | None, content_type: str, params: Params) -> str:
        """The new object's ETag; ClientError (412 when the key exists) or TransportError."""
        try:
            result = self.obstore.put(**self.put_arguments(key, body, content_type, params))
        except self.errors as exc:
            raise client_error(exc) from None
        return (result.get("e_tag") or "").strip('"')

    def head(self, key: str) -> Head | None:
        """HeadObject's answer as boto3 shapes it (ETag, ContentLength), or
        None when the key does not exist; ClientError or TransportError."""
        try:
            meta = self.obstore.head(self.store, key)
        except FileNotFoundError:
            return None
        except self.errors as exc:
            raise client_error(exc, "HeadObject") from None
        return {"ETag": meta.get("e_tag") or "", "ContentLength": meta["size"]}

    async def put_async(
        self, key: str, body: bytes | None, content_type: str, params: Params
    ) -> str:
        """``put`` as a coroutine: hundreds in flight cost no thread each."""
        arguments = self.put_arguments(key, body, content_type, params)
        try:
            result = await self.obstore.put_async(**arguments)
        except self.errors as exc:
            raise client_error(exc) from None
        return (result.get("e_tag") or "").strip('"')


def settle(future: Future[T], task: "asyncio.Task[T]") -> None:
    """Give ``future`` (a concurrent.futures.Future) what ``task`` ended with."""
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())


class Transport:
    """An event loop on a thread of its own, where the uploads of a run on
    the native path wait: a request in flight holds a coroutine, not a
    blocked thread (at 128 in flight, blocked threads cost the GIL hand-offs
    of waking each one). At most ``workers`` uploads run at once, as with
    the thread pool: the engine reads files ahead, but ``--workers`` is the
    number of requests in flight. What is not one native PUT (HEAD first,
    boto3, multipart) runs on the loop's ``workers`` threads."""

    def __init__(self, workers: int) -> None:
        import asyncio  # only runs on the native path need it
        from concurrent.futures import ThreadPoolExecutor

        self.slots = asyncio.Semaphore(workers)  # bound to the loop on first use
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(
            ThreadPoolExecutor(workers, thread_name_prefix="r2-backfill")
        )
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="r2-backfill-transport", daemon=True
        )
        self.thread.start()

    def submit_all(self, coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[Future[T]]:
        """A concurrent.futures.Future of each coroutine's result; each runs
        when one of the ``workers`` slots is free. One wake-up of the loop
        for them all: each wake-up is a write to its self-pipe and a hand-off
        of the interpreter lock."""
        futures: list[Future[T]] = [Future() for _ in coroutines]
        if coroutines:
            self.loop.call_soon_threadsafe(self.start_all, coroutines, futures)
        return futures

    def start_all(
        self, coroutines: Sequence[Coroutine[Any, Any, T]], futures: Sequence[Future[T]]
    ) -> None:
        for coroutine, future in zip(coroutines, futures, strict=True):
            task = self.loop.create_task(self.in_slot(coroutine))
            task.add_done_callback(partial(settle, future))

    async def in_slot(self, coroutine: Coroutine[Any, Any, T]) -> T:
        async with self.slots:
            return await coroutine

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()


def open_native(storage: Any, bucket: str) -> tuple[NativePut | None, str | None]:
    """(NativePut, None) or (None, why boto3 sends the uploads instead)."""
    try:
        from obstore.store import S3Store
    except ImportError:
        return None, "obstore is not installed (pip install obstore)"
    try:
        options = store_options(storage, bucket)
        store = S3Store(bucket, **options)
    except Unsupported as exc:
        return None, str(exc)
    except Exception as exc:  # a CA bundle that cannot be read or parsed, say
        return None, f"the native client cannot use these settings: {describe(exc)}"
    return NativePut(store, signs_payload=not options["unsigned_payload"]), None
