"""Which STORAGES aliases are S3 storages and which one a run works on,
whether an endpoint is R2's, and whether a client can use it at all."""

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

S3_BACKEND = "storages.backends.s3.S3Storage"
R2_HOST_SUFFIX = ".r2.cloudflarestorage.com"
# What a host name in a request line may hold (RFC 3986 reg-name, less the
# escapes and sub-delims no DNS name uses); obstore panics on anything else.
HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")


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


class StorageAliasError(ValueError):
    """No S3 storage for a run to work on; ``str()`` is the sentence with the fix."""


def chosen_s3_alias(alias: str | None = None) -> str:
    """The STORAGES alias a run works on: ``alias`` when its backend is S3, or
    (None) the first S3 alias, ``default`` first. StorageAliasError otherwise:
    the one wording of this rule for every command, check and view."""
    aliases = s3_aliases()
    if alias is None:
        if not aliases:
            raise StorageAliasError(
                f"STORAGES has no S3 backend; set STORAGES['default']['BACKEND'] = {S3_BACKEND!r}."
            )
        return aliases[0]
    if alias not in aliases:
        raise StorageAliasError(
            f"{why_not_s3(alias)}; the S3 aliases are: {', '.join(aliases) or 'none'}."
        )
    return alias


def why_not_s3(alias: str) -> str:
    # A typo and a disk storage want different fixes: say which it is.
    if alias in settings.STORAGES:
        return f"STORAGES[{alias!r}] is not an S3 storage"
    return f"STORAGES has no S3 alias {alias!r}"


def is_r2_endpoint(endpoint_url: str | None) -> bool:
    host = (urlsplit(endpoint_url or "").hostname or "").lower()
    return host.endswith(R2_HOST_SUFFIX)


class EndpointError(ValueError):
    """An endpoint URL no client can use; ``str()`` is the sentence with the fix."""


def endpoint_problem(endpoint_url: str) -> str | None:
    """What makes ``endpoint_url`` unusable ("is not an http(s) URL with a host
    name", "has a port out of range ..."), or None for a URL a client can send
    to. boto3 refuses such URLs late with a ValueError, obstore panics on them
    at its first request: this says why before either is built."""
    try:
        parts = urlsplit(endpoint_url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
    except ValueError as exc:
        return f"is malformed: {exc}"
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in endpoint_url):
        return "is not an http(s) URL with a host name"
    if not (HOST_NAME.fullmatch(host) or is_ip_literal(host)):
        return (
            f"has the host {host!r}, which holds characters a host name cannot "
            "(an international name is written in its xn-- form)"
        )
    return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_endpoint(endpoint_url: str | None, setting: str = "AWS_S3_ENDPOINT_URL") -> str | None:
    """``endpoint_url`` unchanged when a client can use it (or it is unset: Amazon
    S3); EndpointError naming the setting and its form otherwise."""
    problem = endpoint_url and endpoint_problem(endpoint_url)
    if problem:
        raise EndpointError(
            f"{setting} {endpoint_url!r} {problem}; set it to the S3 API endpoint, "
            "e.g. https://<account id>.r2.cloudflarestorage.com."
        )
    return endpoint_url
