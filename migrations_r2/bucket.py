"""The bucket a backfill writes to, built from the project's own storage
settings: one storage instance (for its location, object parameters and
public URLs) and one boto3 client shared by every worker thread, built the
first time something needs it (a run on the native path may never)."""

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from django.conf import settings

from r2_toolkit.core.compat import checksum_options
from r2_toolkit.core.files import open_storage, public_url
from r2_toolkit.core.storage import check_endpoint, chosen_s3_alias, is_r2_endpoint

AWS_HOST_SUFFIX = ".amazonaws.com"


def honours_if_none_match(endpoint_url: str | None) -> bool:
    """Whether the endpoint is one documented to refuse a conditional PUT of
    an existing key (R2, and AWS S3 since August 2024): no need to find out."""
    host = (urlsplit(endpoint_url or "").hostname or "").lower()
    return endpoint_url is None or is_r2_endpoint(endpoint_url) or host.endswith(AWS_HOST_SUFFIX)


@dataclass
class Bucket:
    storage: Any  # an S3Storage with query-string auth off: url() is never signed
    name: str
    is_r2: bool
    _client: Any = None  # a boto3 S3 client, built on first use
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> Any:
        # storage.connection is per thread: build one client and share it.
        with self._lock:
            if self._client is None:
                self._client = self.storage.connection.meta.client
            return self._client

    @property
    def location(self) -> str:
        return self.storage.location or ""

    def object_parameters(self, name: str) -> dict[str, Any]:
        """The configured object parameters (Cache-Control, …) for ``name``;
        no ACL on R2, which does not implement ACLs."""
        params = dict(self.storage.get_object_parameters(name))
        params.pop("ContentType", None)  # sniffed from the bytes instead
        if self.storage.default_acl and "ACL" not in params:
            params["ACL"] = self.storage.default_acl
        if self.is_r2:
            params.pop("ACL", None)
        return params

    def public_url(self, name: str) -> str:
        return public_url(self.storage, name)


def client_config(base: Config | None, workers: int) -> Config:
    """``base`` plus a pool big enough for every worker, checksums only when
    required (R2 rejects the default CRC32 headers) and botocore's retries
    off: the uploader retries with its own bound."""
    ours = Config(
        max_pool_connections=max(10, workers + 4),
        **checksum_options(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return base.merge(ours) if base is not None else ours


def endpoint_setting(alias: str, options: Mapping[str, Any]) -> str:
    """Where the endpoint URL of ``alias`` is set, as the operator writes it."""
    if "endpoint_url" in options:
        return f'STORAGES[{alias!r}]["OPTIONS"]["endpoint_url"]'
    return "AWS_S3_ENDPOINT_URL"


def open_bucket(workers: int, alias: str | None = None) -> Bucket:
    """The bucket of the S3 storage ``alias`` (default: the first S3 alias,
    ``default`` first); ValueError with the fix when there is none
    (core.storage's StorageAliasError) or its bucket or endpoint cannot be
    used. Builds clients only: no request is sent."""
    alias = chosen_s3_alias(alias)
    options = settings.STORAGES[alias].get("OPTIONS") or {}
    base = options.get("client_config", getattr(settings, "AWS_S3_CLIENT_CONFIG", None))
    storage = open_storage(
        alias, client_config=client_config(base, workers), querystring_auth=False
    )
    check_endpoint(storage.endpoint_url, endpoint_setting(alias, options))
    if not storage.bucket_name:
        raise ValueError(
            "AWS_STORAGE_BUCKET_NAME is not set; set it to the bucket to backfill into."
        )
    if base is None:
        # django-storages folds these three settings into the Config it makes
        # itself, which ours replaced: fold them into ours.
        storage.client_config = storage.client_config.merge(
            Config(
                s3={"addressing_style": storage.addressing_style},
                signature_version=storage.signature_version,
                proxies=storage.proxies,
            )
        )
    return Bucket(storage, storage.bucket_name, is_r2_endpoint(storage.endpoint_url))
