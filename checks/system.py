"""The static checks, registered with Django's system check framework under
the tag ``r2``: ``manage.py check --deploy --tag r2`` runs them."""

from django.core import checks as django_checks

from checks import registry
from checks.runner import run_checks
from toolkit.core.storage import s3_aliases

LEVELS = {"warn": django_checks.Warning, "fail": django_checks.Error}


@django_checks.register("r2", deploy=True)
def r2_static_checks(app_configs=None, **kwargs):
    static = [c for c in registry.select() if c.kind == "static"]
    messages = []
    for result in run_checks(static, aliases=s3_aliases(), timeout=30):
        level = LEVELS.get(result.status)
        if level:
            alias = result.details.get("storage")
            where = f" (STORAGES[{alias!r}])" if alias else ""
            messages.append(level(result.message + where, hint=result.hint or None, id=result.id))
    return messages
