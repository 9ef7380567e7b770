"""The toolkit's own settings: every ``R2_TOOLKIT`` key known, current and castable,
and every id ``R2_TOOLKIT["SILENCED"]`` names a check that exists."""

import difflib

from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import REGISTRY, Outcome, check, fail, ok, warn
from r2_toolkit.core.conf import Problem, toolkit_settings


def silenced_problems() -> list[Problem]:
    """A warning for each id in SILENCED that names no check: it silences nothing."""
    try:
        silenced = toolkit_settings.SILENCED
    except ImproperlyConfigured:  # reported by toolkit_settings.problems()
        return []
    found = []
    for check_id in silenced:
        if check_id in REGISTRY:
            continue
        close = difflib.get_close_matches(check_id, REGISTRY, n=1)
        guess = f"Did you mean {close[0]!r}? " if close else ""
        found.append(
            Problem(
                "warning",
                "r2.settings.unknown_silenced",
                f'R2_TOOLKIT["SILENCED"] names {check_id!r}, which is no check id; '
                "it silences nothing",
                guess + "`python manage.py r2_check --list` shows every check id.",
            )
        )
    return found


def problems() -> list[Problem]:
    """Everything wrong with R2_TOOLKIT, for this check and Django's system checks."""
    return toolkit_settings.problems() + silenced_problems()


@check("r2.settings.toolkit", per_storage=False)
def toolkit_keys(ctx: CheckContext) -> Outcome:
    """R2_TOOLKIT keys are known and their values usable.

    Catches: A misspelt R2_TOOLKIT key that is silently ignored, a key that is no longer used, a
    value of the wrong kind (a word where seconds are expected), or a SILENCED entry that names
    no check.

    Fix: Rename the key to the one suggested, follow the replacement named for a removed key,
    write the value as the message shows, or correct the SILENCED id.
    """
    found = problems()
    if not found:
        return ok("Every R2_TOOLKIT key is known and its value usable.")
    errors = [p for p in found if p.level == "error"]
    outcome = fail if errors else warn
    shown = errors or found
    return outcome(
        "; ".join(p.message for p in shown) + ".",
        " ".join(p.hint for p in shown if p.hint) or shown[0].message,
        problems=[{"id": p.id, "level": p.level, "message": p.message} for p in found],
    )
