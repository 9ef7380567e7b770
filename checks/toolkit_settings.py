"""The toolkit's own settings: every ``R2_TOOLKIT`` key known, current and castable."""

from checks.registry import check, fail, ok, warn
from toolkit.core.conf import toolkit_settings


@check(
    "r2.settings.toolkit",
    title="R2_TOOLKIT keys are known and their values usable",
    catches="A misspelt R2_TOOLKIT key that is silently ignored, a key that is no longer "
    "used, or a value of the wrong kind (a word where seconds are expected).",
    fix="Rename the key to the one suggested, follow the replacement named for a removed "
    "key, or write the value as the message shows.",
    per_storage=False,
)
def toolkit_keys(ctx):
    problems = toolkit_settings.problems()
    if not problems:
        return ok("Every R2_TOOLKIT key is known and its value usable.")
    errors = [p for p in problems if p.level == "error"]
    outcome = fail if errors else warn
    shown = errors or problems
    return outcome(
        "; ".join(p.message for p in shown) + ".",
        " ".join(p.hint for p in shown if p.hint) or shown[0].message,
        problems=[{"id": p.id, "level": p.level, "message": p.message} for p in problems],
    )
