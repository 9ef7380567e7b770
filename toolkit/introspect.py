"""The effective storage configuration, as /debug/r2/config shows it.

"Effective" means what a freshly built storage instance actually holds after
django-storages merged STORAGES OPTIONS, AWS_* settings and its defaults;
that is what uploads use, and it is often not what the settings file seems to
say. Building an instance does no network I/O. Credentials are reported only
as set or unset; everything else passes through redaction on the way out.
"""

import platform
from importlib import metadata
from typing import Any

from django.conf import settings

from r2_toolkit.checks.storages import COMPARED as COMPARED_SETTINGS
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.files import open_storage
from r2_toolkit.core.redact import redact, redact_url
from r2_toolkit.core.storage import is_r2_endpoint, s3_aliases

LIBRARIES = ("Django", "django-storages", "boto3", "botocore", "s3transfer", "Pillow")

# Storage attributes shown as they are (none of them is a secret).
PLAIN_OPTIONS = (
    *COMPARED_SETTINGS,  # the settings the stale-instance check compares
    "use_ssl",
    "verify",
    "gzip",
    "max_memory_size",
    "use_threads",
    "file_name_charset",
)
# Credentials: only which of them are set, as lists of names (redaction masks
# any value under a secret-looking key, even "set").
CREDENTIALS = {
    "access key id": "access_key",
    "secret access key": "secret_key",
    "session token": "security_token",
    "session profile": "session_profile",
    "cloudfront key": "cloudfront_key",
}
# botocore Config fields that decide how requests go out (checksums matter for R2).
CLIENT_OPTIONS = (
    "request_checksum_calculation",
    "response_checksum_validation",
    "signature_version",
    "connect_timeout",
    "read_timeout",
    "retries",
    "max_pool_connections",
    "s3",
)
EXAMPLE_NAME = "r2-toolkit-sample/example.jpg"  # any name: no layout of one site


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"Python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def client_options(config: Any) -> dict[str, object] | None:
    if config is None:
        return None
    return {name: getattr(config, name, None) for name in CLIENT_OPTIONS}


def storage_report(alias: str) -> dict[str, object]:
    """What the S3 storage ``alias`` holds once built, or the reason it cannot be."""
    config = settings.STORAGES[alias]
    report: dict[str, object] = {"alias": alias, "backend": config.get("BACKEND")}
    try:
        storage = open_storage(alias)
    except Exception as exc:  # ImproperlyConfigured and friends, in words
        return {**report, "error": describe(exc)}
    report.update({name: getattr(storage, name, None) for name in PLAIN_OPTIONS})
    present = {label: bool(getattr(storage, name, None)) for label, name in CREDENTIALS.items()}
    report["auth"] = {
        "set": [label for label, on in present.items() if on],
        "unset": [label for label, on in present.items() if not on],
    }
    report["client_config"] = client_options(getattr(storage, "client_config", None))
    report["is_r2"] = is_r2_endpoint(storage.endpoint_url)
    try:  # the URL the app would hand to browsers: the public domain, never the endpoint
        report["example_url"] = redact_url(storage.url(EXAMPLE_NAME))
    except Exception as exc:
        report["example_url_error"] = describe(exc)
    return report


def config_report() -> dict[str, object]:
    """Every S3 alias's effective configuration, the toolkit's settings and
    the library versions; redacted."""
    aliases = s3_aliases()
    return redact(
        {
            "storages": [storage_report(alias) for alias in aliases],
            "other_storages": {
                alias: config.get("BACKEND")
                for alias, config in settings.STORAGES.items()
                if alias not in aliases
            },
            "legacy_settings": {
                "DEFAULT_FILE_STORAGE": getattr(settings, "DEFAULT_FILE_STORAGE", None),
                "storages_installed": "storages" in settings.INSTALLED_APPS,
            },
            "toolkit": {
                "image_model": toolkit_settings.IMAGE_MODEL,
                "cors_origins": list(toolkit_settings.CORS_ORIGINS),
                "health_ttl": toolkit_settings.HEALTH_TTL,
                "health_timeout": toolkit_settings.HEALTH_TIMEOUT,
                "health_path": toolkit_settings.HEALTH_PATH,
                "health_public_object": toolkit_settings.HEALTH_PUBLIC_OBJECT,
                "check_timeout": toolkit_settings.CHECK_TIMEOUT,
                "bearer_auth": "enabled" if toolkit_settings.TOKEN else "disabled",
            },
            "versions": versions(),
        }
    )
