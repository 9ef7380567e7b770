from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks as django_checks


# Registered here and imported when Django runs its system checks, not when
# the app loads: every manage.py command (r2_backfill's start-up included)
# would otherwise import the whole check catalogue.
def r2_toolkit_settings(app_configs: Sequence[Any] | None = None, **kwargs: object) -> list[Any]:
    from r2_toolkit.checks.system import r2_toolkit_settings

    return r2_toolkit_settings(app_configs, **kwargs)


def r2_static_checks(app_configs: Sequence[Any] | None = None, **kwargs: object) -> list[Any]:
    from r2_toolkit.checks.system import r2_static_checks

    return r2_static_checks(app_configs, **kwargs)


class ToolkitConfig(AppConfig):
    name = "r2_toolkit.toolkit"
    label = "r2_toolkit"
    verbose_name = "R2 Toolkit"

    def ready(self) -> None:
        # Unknown, removed and invalid R2_TOOLKIT keys on every command; the
        # static checks under `manage.py check --deploy --tag r2`.
        django_checks.register(r2_toolkit_settings, "r2")
        django_checks.register(r2_static_checks, "r2", deploy=True)
        # django-prometheus serves prometheus_client's default registry at its
        # own /metrics: the probe's series join it there too (once per process).
        if apps.is_installed("django_prometheus"):
            from r2_toolkit.toolkit.metrics import join_default_registry

            join_default_registry()
