"""Which setting a storage's credential comes from: django-storages' own
precedence, written once (the gate's conflict check and its hints read it).

django-storages' S3Storage (``get_default_settings``, checked on 1.14.3 and
1.14.6) takes each credential from the alias's OPTIONS, else AWS_S3_*, else
AWS_* (the environment only when neither setting exists; the toolkit reads
settings, not the environment).
"""

from collections.abc import Mapping
from typing import Any

# label -> (the OPTIONS key, then the settings in the order they win)
CREDENTIALS: dict[str, tuple[str, str, str]] = {
    "access key id": ("access_key", "AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    "secret key": ("secret_key", "AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
}


def credential_sources(
    alias: str | None, options: Mapping[str, Any], settings: Any, label: str
) -> list[tuple[str, Any]]:
    """[(where, value)] for each place that sets the credential ``label``
    for ``alias`` (its OPTIONS given), winner first."""
    option, *names = CREDENTIALS[label]
    found: list[tuple[str, Any]] = []
    if options.get(option):
        found.append((f'STORAGES["{alias}"]["OPTIONS"]["{option}"]', options[option]))
    for name in names:
        if getattr(settings, name, None):
            found.append((name, getattr(settings, name)))
    return found


def plain_setting(option: str) -> str:
    """The AWS_* setting of the OPTIONS key ``option`` (what hints name first)."""
    return next(names[-1] for names in CREDENTIALS.values() if names[0] == option)
