"""Running checks: static and database checks on the calling thread, network
checks concurrently on daemon threads, all bounded by one deadline.

Daemon threads, not a pool: a request that hangs past the deadline must not
hold the process at exit (concurrent.futures joins its workers).
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, TypedDict, TypeVar

from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Check, Outcome, Result, Skip
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.severity import STATUSES, failing
from r2_toolkit.core.storage import s3_aliases

logger = logging.getLogger("r2_toolkit.checks")

TIMED_OUT_HINT = (
    "The storage endpoint did not answer in time: check that AWS_S3_ENDPOINT_URL is "
    "reachable from this host (DNS, firewall, proxy), or raise --timeout."
)


def evaluate(check: Check, ctx: CheckContext) -> Result:
    """Run one check on one context; never raises."""
    started = time.perf_counter()
    crash: Exception | None = None
    try:
        outcome = check.fn(ctx)
    except Skip as exc:
        outcome = Outcome("skip", str(exc))
    except Exception as exc:  # a bug or an unexpected answer: a failed check, in words
        crash = exc
        logger.debug("check %s crashed", check.id, exc_info=True)
        outcome = Outcome(
            "fail",
            f"{check.title}: the check could not complete: {describe(exc)}",
            check.fix,
        )
    details = dict(outcome.details)
    if check.per_storage:
        details = {"storage": ctx.alias, **details}
    return Result(
        id=check.id,
        group=check.group,
        status=outcome.status,
        message=outcome.message,
        hint=outcome.hint,
        duration_ms=(time.perf_counter() - started) * 1000,
        details=details,
        exception=crash,
    )


def plan(
    checks: Iterable[Check], aliases: Sequence[str], timeout: float, keep: bool = False
) -> list[tuple[Check, CheckContext]]:
    """(check, context) pairs: per-storage checks once per alias, with one
    shared context per alias so they share its client and bucket answers."""
    contexts = {alias: CheckContext(alias, timeout, keep) for alias in aliases}
    shared = CheckContext(aliases[0] if aliases else None, timeout, keep)
    pairs: list[tuple[Check, CheckContext]] = []
    for check in checks:
        if not check.per_storage:
            pairs.append((check, shared))
        elif not contexts:
            pairs.append((check, CheckContext(None, timeout)))
        else:
            pairs.extend((check, ctx) for ctx in contexts.values())
    return pairs


SILENCED_REASON = "Silenced by R2_TOOLKIT['SILENCED']."


def not_run(checks: Iterable[Check], skipped: Mapping[str, str] | None) -> dict[str, str]:
    """Check id -> why it is reported as skipped without running: the ids in
    ``skipped`` (id -> reason, e.g. ``r2_check --skip``) and those silenced
    by ``R2_TOOLKIT["SILENCED"]``, as SILENCED_SYSTEM_CHECKS does for Django's."""
    try:
        silenced = toolkit_settings.SILENCED
    except ImproperlyConfigured:  # r2.settings.toolkit reports the bad value
        silenced = ()
    reasons = {check_id: SILENCED_REASON for check_id in silenced}
    reasons.update(skipped or {})
    return {c.id: reasons[c.id] for c in checks if c.id in reasons}


def skipped_result(check: Check, ctx: CheckContext, reason: str) -> Result:
    details: dict[str, object] = {"storage": ctx.alias} if check.per_storage else {}
    return Result(check.id, check.group, "skip", reason, "", 0.0, details)


def run_checks(
    checks: Sequence[Check],
    *,
    aliases: Iterable[str] | None = None,
    timeout: float = 30.0,
    keep: bool = False,
    skipped: Mapping[str, str] | None = None,
) -> list[Result]:
    """Results of ``checks`` over the S3 aliases, in a stable order.
    ``skipped``: check id -> the reason it is reported as skipped, unrun."""
    aliases = s3_aliases() if aliases is None else list(aliases)
    pairs = plan(checks, aliases, timeout, keep)
    deadline = time.monotonic() + timeout
    results: list[Result | None] = [None] * len(pairs)
    done = threading.Condition()
    unrun = not_run(checks, skipped)
    for index, (check, ctx) in enumerate(pairs):
        if check.id in unrun:
            results[index] = skipped_result(check, ctx, unrun[check.id])

    def work(index: int, check: Check, ctx: CheckContext) -> None:
        result = evaluate(check, ctx)
        with done:
            results[index] = result
            done.notify_all()

    for index, (check, ctx) in enumerate(pairs):
        if check.kind == "network" and results[index] is None:
            threading.Thread(
                target=work, args=(index, check, ctx), daemon=True, name=f"r2-check-{check.id}"
            ).start()
    for index, (check, ctx) in enumerate(pairs):
        if check.kind != "network" and results[index] is None:
            results[index] = evaluate(check, ctx)

    with done:
        while any(r is None for r in results):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not done.wait(remaining):
                break
        final = list(results)
    for index, (check, ctx) in enumerate(pairs):
        if final[index] is None:
            details: dict[str, object] = {"storage": ctx.alias} if check.per_storage else {}
            final[index] = Result(
                check.id,
                check.group,
                "fail",
                f"{check.title}: no answer within {timeout:g}s",
                TIMED_OUT_HINT,
                timeout * 1000,
                details,
            )
    return [result for result in final if result is not None]  # every slot is filled now


class Summary(TypedDict):
    """The head of r2_check's JSON document: the verdict and status -> count."""

    ok: bool
    summary: dict[str, int]


def summarize(results: Iterable[Result], fail_on: str = "error") -> Summary:
    """The JSON document's head: ok flag and counts per status."""
    summary = dict.fromkeys(STATUSES, 0)
    for result in results:
        summary[result.status] += 1
    return {"ok": not failing(summary, fail_on), "summary": summary}


T = TypeVar("T")
# A call's answer: (True, what it returned) or (False, what it raised, or the
# TimeoutError of a call still running after ``timeout``).
Answer = tuple[Literal[True], T] | tuple[Literal[False], Exception]


def concurrently(
    calls: Mapping[str, Callable[[], T]], timeout: float | None = None
) -> dict[str, Answer[T]]:
    """Run the zero-argument ``calls`` (name -> callable) at once, each on a
    daemon thread (a hung request must not hold the process at exit); wait for
    all, or ``timeout`` seconds at most, and return name -> (succeeded, value
    or exception); a call still running then is a TimeoutError."""
    results: dict[str, Answer[T]] = {}

    def run(name: str, call: Callable[[], T]) -> None:
        try:
            results[name] = (True, call())
        except Exception as exc:  # handed to the step that reads it
            results[name] = (False, exc)

    threads = [
        threading.Thread(target=run, args=item, daemon=True, name=f"r2-request-{item[0]}")
        for item in calls.items()
    ]
    for thread in threads:
        thread.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    for thread in threads:
        thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
    # Without a timeout every call has answered: only a deadline leaves one out.
    return {
        name: results.get(name) or (False, TimeoutError(f"no answer within {timeout:g}s"))
        for name in calls
    }
