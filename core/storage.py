"""Which STORAGES aliases are S3 storages, and whether an endpoint is R2's."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

S3_BACKEND = "storages.backends.s3.S3Storage"
R2_HOST_SUFFIX = ".r2.cloudflarestorage.com"


def is_s3_backend(backend_path: str) -> bool:
    try:
        backend = import_string(backend_path)
    except ImportError:
        return False
    s3 = import_string(S3_BACKEND)
    return isinstance(backend, type) and issubclass(backend, s3)


def is_s3_storage(storage: object) -> bool:
    """Whether ``storage`` is an S3 storage (``default_storage``'s lazy
    wrapper forwards isinstance)."""
    return isinstance(storage, import_string(S3_BACKEND))


def s3_aliases(storages_setting: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Aliases in STORAGES whose backend is S3, ``default`` first."""
    storages_setting = settings.STORAGES if storages_setting is None else storages_setting
    aliases = [a for a, c in storages_setting.items() if is_s3_backend(c.get("BACKEND", ""))]
    return sorted(aliases, key=lambda a: a != "default")


def is_r2_endpoint(endpoint_url: str | None) -> bool:
    host = (urlsplit(endpoint_url or "").hostname or "").lower()
    return host.endswith(R2_HOST_SUFFIX)
