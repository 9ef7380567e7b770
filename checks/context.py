"""What a check gets: the storage alias it is about and lazily built,
shared pieces (a fresh storage instance, its boto3 client, the bucket's
answer to HeadBucket, its CORS rules).

Each piece is built once per context even when several checks ask for it
from different threads at once, and a failure is remembered too, so ten
checks behind a dead endpoint cost one timeout, not ten.
"""

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.config import Config
from django.conf import settings

from r2_toolkit.checks.registry import Skip
from r2_toolkit.core.compat import share_client
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.files import open_storage
from r2_toolkit.core.storage import is_r2_endpoint

T = TypeVar("T")


def once(method: Callable[["CheckContext"], T]) -> Callable[["CheckContext"], T]:
    """Memoize a zero-argument context method, exceptions included, per instance."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: "CheckContext") -> T:
        return self.shared(name, lambda: method(self))

    return wrapper


class CheckContext:
    """Everything a check may need about one storage alias (or none)."""

    def __init__(
        self, alias: str | None = None, timeout: float | None = None, keep: bool = False
    ) -> None:
        self.alias = alias
        self.keep = keep  # the round-trip leaves its probe behind (for debugging)
        self.timeout = float(timeout or toolkit_settings.CHECK_TIMEOUT)
        self.toolkit = toolkit_settings
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        # key -> (True, what build() returned) or (False, the exception it raised)
        self._memo: dict[str, tuple[bool, Any]] = {}

    def shared(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per context under ``key``, exceptions included, even
        when several checks ask at once from different threads: for work a group
        of checks shares (one database ping, one round-trip probe)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = (True, build())
                except Exception as exc:  # remembered and re-raised to every caller
                    self._memo[key] = (False, exc)
        succeeded, value = self._memo[key]
        if succeeded:
            return value
        raise value

    # --- configuration -------------------------------------------------
    @property
    def storage_config(self) -> dict[str, Any]:
        return settings.STORAGES.get(self.alias, {})

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.storage_config.get("OPTIONS") or {})

    def client_config(self, base: Config | None = None) -> Config:
        """``base`` (the storage's own client config) with this run's timeouts,
        so no request can outlive the deadline."""
        limits = Config(
            connect_timeout=min(self.timeout, 10),
            read_timeout=self.timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        return base.merge(limits) if base is not None else limits

    @once
    def storage(self) -> Any:
        """A freshly built instance of this alias's storage, as the app would
        build it now, with the run's timeouts; raises ImproperlyConfigured."""
        if self.alias is None:
            raise Skip("no S3 storage is configured in STORAGES")
        storage = open_storage(self.alias)
        # After __init__ the storage holds the client config it would really
        # use (its own default, with signature version, addressing style and
        # proxies, when none is configured); add the timeouts to that.
        storage.client_config = self.client_config(storage.client_config)
        # Each thread of the run (the checks, the round-trip's concurrent
        # requests) gets its own boto3 resource, all around one client.
        return share_client(storage)

    @once
    def client(self) -> Any:
        """One boto3 client, shared by every thread of this run (boto3 clients
        are thread-safe)."""
        return self.storage().connection.meta.client

    @property
    def bucket(self) -> str | None:
        return self.storage().bucket_name

    @property
    def endpoint_url(self) -> str | None:
        return self.storage().endpoint_url

    @property
    def is_r2(self) -> bool:
        return is_r2_endpoint(self.endpoint_url)

    # --- the bucket, asked once ----------------------------------------
    @once
    def head_bucket(self) -> dict[str, Any]:
        """HeadBucket's response; raises the client's exception."""
        if not self.bucket:
            raise Skip("AWS_STORAGE_BUCKET_NAME is not set")
        return self.client().head_bucket(Bucket=self.bucket)

    def require_bucket(self) -> None:
        """Skip the calling check unless the bucket answered HeadBucket."""
        try:
            self.head_bucket()
        except Exception as exc:
            raise Skip("the bucket is not reachable; see r2.connectivity.head_bucket") from exc
