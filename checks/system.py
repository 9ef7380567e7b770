"""The static checks in Django's system check framework, under the tag ``r2``
(``manage.py check --deploy --tag r2``); ``toolkit.apps`` registers them."""

from collections.abc import Sequence
from typing import Any

from django.core import checks as django_checks

from r2_toolkit.checks import registry
from r2_toolkit.checks.runner import run_checks
from r2_toolkit.checks.toolkit_settings import problems
from r2_toolkit.core.severity import STATUS_OF_LEVEL
from r2_toolkit.core.storage import s3_aliases

LEVELS = {"warn": django_checks.Warning, "fail": django_checks.Error}
PROBLEM_LEVELS = {level: LEVELS[status] for level, status in STATUS_OF_LEVEL.items()}
# Reported on every manage.py command (below), so not again under --deploy.
ALWAYS = "r2.settings.toolkit"


def r2_toolkit_settings(app_configs: Sequence[Any] | None = None, **kwargs: object) -> list[Any]:
    """Unknown, removed and invalid R2_TOOLKIT keys, on every command."""
    return [PROBLEM_LEVELS[p.level](p.message, hint=p.hint or None, id=p.id) for p in problems()]


def r2_static_checks(app_configs: Sequence[Any] | None = None, **kwargs: object) -> list[Any]:
    static = [c for c in registry.select() if c.kind == "static" and c.id != ALWAYS]
    messages: list[Any] = []
    for result in run_checks(static, aliases=s3_aliases(), timeout=30):
        level = LEVELS.get(result.status)
        if level:
            alias = result.details.get("storage")
            where = f" (STORAGES[{alias!r}])" if alias else ""
            messages.append(level(result.message + where, hint=result.hint or None, id=result.id))
    return messages
