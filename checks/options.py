"""Where a storage option comes from, its configured value, and how to write
it in a hint.

django-storages reads each option from ``STORAGES[alias]["OPTIONS"]`` first
and from an ``AWS_*`` setting otherwise; a hint must name the one the
operator actually uses, or the fix lands in the wrong place.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from r2_toolkit.core.compat import storage_defaults

# The django-storages setting behind each option the checks talk about.
SETTING_NAMES = {
    "bucket_name": "AWS_STORAGE_BUCKET_NAME",
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "region_name": "AWS_S3_REGION_NAME",
    "custom_domain": "AWS_S3_CUSTOM_DOMAIN",
    "url_protocol": "AWS_S3_URL_PROTOCOL",
    "location": "AWS_LOCATION",
    "querystring_auth": "AWS_QUERYSTRING_AUTH",
    "querystring_expire": "AWS_QUERYSTRING_EXPIRE",
    "default_acl": "AWS_DEFAULT_ACL",
    "object_parameters": "AWS_S3_OBJECT_PARAMETERS",
    "signature_version": "AWS_S3_SIGNATURE_VERSION",
    "addressing_style": "AWS_S3_ADDRESSING_STYLE",
    "client_config": "AWS_S3_CLIENT_CONFIG",
    "file_overwrite": "AWS_S3_FILE_OVERWRITE",
}


def storage_options(alias: str | None) -> dict[str, Any]:
    return dict((settings.STORAGES.get(alias) or {}).get("OPTIONS") or {})


def backend_class(alias: str | None) -> Any:
    """The backend class of ``alias``; raises ImportError when it cannot be imported."""
    return import_string((settings.STORAGES.get(alias) or {}).get("BACKEND", ""))


def default_options(backend: Any) -> dict[str, Any]:
    """The options ``backend`` accepts, with the values its settings give them.

    Read without running ``__init__``, which refuses some values (a leading
    ``/`` in ``location``) that the checks must still be able to name.
    """
    return storage_defaults(backend)


def configured(alias: str | None, option: str) -> Any:
    """The value ``option`` has for ``alias`` as written in the settings:
    OPTIONS first, then the backend's own default (its AWS_* setting)."""
    options = storage_options(alias)
    if option in options:
        return options[option]
    return default_options(backend_class(alias)).get(option)


def setting_path(alias: str | None, option: str) -> str:
    """Where the operator writes ``option``: the OPTIONS key when the alias
    sets it there (or has no AWS_* counterpart), else the AWS_* setting."""
    if option in storage_options(alias) or option not in SETTING_NAMES:
        return f'STORAGES["{alias}"]["OPTIONS"]["{option}"]'
    return SETTING_NAMES[option]


def assignment(alias: str | None, option: str, value: object) -> str:
    """A line to paste: ``AWS_S3_REGION_NAME = "auto"``."""
    return f"{setting_path(alias, option)} = {literal(value)}"


def literal(value: object) -> str:
    """``value`` as Python source, strings in double quotes like the settings files."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def sentence(text: str) -> str:
    """``text`` as a sentence: capital first letter, full stop."""
    text = text.rstrip(".")
    return text[:1].upper() + text[1:] + "."


def dotted(numbers: Iterable[object]) -> str:
    return ".".join(map(str, numbers))
