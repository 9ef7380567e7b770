"""The toolkit's one severity vocabulary.

A check's result is ``pass``, ``warn``, ``fail`` or ``skip`` (the statuses of
the JSON, JUnit and HTML reports). A settings :class:`~r2_toolkit.core.conf.Problem`
is a ``warning`` or an ``error`` (Django's system-check levels), and
``r2_check --fail-on`` takes those two words: a warning is what a ``warn``
is, an error what a ``fail`` is.
"""

from collections.abc import Mapping

STATUSES = ("pass", "warn", "fail", "skip")
STATUS_OF_LEVEL = {"warning": "warn", "error": "fail"}


def fails(status: str, fail_on: str = "error") -> bool:
    """Whether a result of ``status`` fails a run gated at ``fail_on``."""
    return status == "fail" or (status == "warn" and fail_on == "warning")


def failing(summary: Mapping[str, int], fail_on: str = "error") -> int:
    """How many of the results counted in ``summary`` (status -> n) fail the run."""
    return sum(n for status, n in summary.items() if fails(status, fail_on))
