"""The check registry, results, and the small vocabulary checks speak.

A check is a function ``fn(ctx) -> Outcome`` registered with ``@check``. It
returns ``ok(...)``, ``warn(...)``, ``fail(...)``, ``skip(...)`` or raises
:class:`Skip`; the runner stamps id, group, duration and the storage alias.
Anything else it raises becomes a failed check with a plain message.

What a check is for is written once, in its docstring, which docs/checks.md
and ``r2_check --list`` are made from::

    @check("r2.settings.url_protocol")
    def url_protocol(ctx):
        '''The URL protocol ends in ':'.

        Catches: AWS_S3_URL_PROTOCOL written as 'https', which breaks every URL.

        Fix: Set AWS_S3_URL_PROTOCOL = "https:".

        Source: (optional) where the fault was reported or documented.
        '''

The first paragraph is the title (its full stop dropped); a paragraph is
joined into one line. A text built from constants (a hint several checks
share) is passed to ``@check`` instead: ``@check(id, fix=FETCH_FIX)``.
Further paragraphs are notes for maintainers.
"""

import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

if TYPE_CHECKING:  # context.py imports this module (for Skip)
    from r2_toolkit.checks.context import CheckContext

# A check: the run's context -> an Outcome (or raises Skip).
CheckFunction = Callable[["CheckContext"], "Outcome"]
# ``@check`` hands back the very function it registers, its own type intact.
F = TypeVar("F", bound=CheckFunction)

# A result's status (core.severity.STATUSES) and how a check runs (KINDS).
Status = Literal["pass", "warn", "fail", "skip"]
Kind = Literal["static", "db", "network"]

GROUPS = ("storages", "settings", "connectivity", "cors", "schema", "objects", "roundtrip")

# How a check runs: "static" reads settings and builds objects, no I/O;
# "db" talks to the database (main thread only); "network" talks to the
# bucket (worker threads, bounded by the deadline).
KINDS = ("static", "db", "network")


@dataclass(frozen=True)
class Check:
    id: str
    group: str
    title: str
    catches: str
    fix: str
    fn: CheckFunction
    kind: Kind = "static"
    per_storage: bool = True  # once per S3 alias, or once per run
    mutating: bool = False  # writes to the bucket (the round-trip)
    # Where the fault was reported or documented (an issue, a changelog, the
    # store's documentation), named in docs/checks.md.
    source: str = ""

    @property
    def name(self) -> str:
        return self.id.rsplit(".", 1)[-1]


@dataclass
class Outcome:
    status: Status
    message: str
    hint: str = ""
    details: dict[str, object] = field(default_factory=dict)


class ResultDict(TypedDict):
    """One entry of the JSON document's ``checks`` (:meth:`Result.as_dict`)."""

    id: str
    group: str
    status: Status
    message: str
    hint: str
    duration_ms: float
    details: dict[str, object]


@dataclass
class Result:
    id: str
    group: str
    status: Status
    message: str
    hint: str = ""
    duration_ms: float = 0.0
    details: dict[str, object] = field(default_factory=dict)
    # The exception of a check that crashed: for maintainers (`r2_check -v 3`),
    # never in any report.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> ResultDict:
        return {
            "id": self.id,
            "group": self.group,
            "status": self.status,
            "message": self.message,
            "hint": self.hint,
            "duration_ms": round(self.duration_ms, 1),
            "details": self.details,
        }


class Skip(Exception):
    """Raised by a check (or a context helper) when it cannot apply."""


def ok(message: str, **details: object) -> Outcome:
    return Outcome("pass", message, "", details)


def warn(message: str, hint: str, **details: object) -> Outcome:
    return Outcome("warn", message, hint, details)


def fail(message: str, hint: str, **details: object) -> Outcome:
    return Outcome("fail", message, hint, details)


def skip(message: str, **details: object) -> Outcome:
    return Outcome("skip", message, "", details)


REGISTRY: dict[str, Check] = {}


# The docstring's labelled paragraphs, and the Check fields they fill.
DOC_LABELS = {"Catches:": "catches", "Fix:": "fix", "Source:": "source"}


def documented(fn: CheckFunction) -> dict[str, str]:
    """The title, catches, fix and source a check's docstring gives."""
    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(fn.__doc__ or "").split("\n\n")]
    found = {"title": paragraphs[0].removesuffix(".")} if paragraphs[0] else {}
    for text in paragraphs[1:]:
        label, _, rest = text.partition(" ")
        if label in DOC_LABELS:
            found[DOC_LABELS[label]] = rest
    return found


def check(
    id: str,
    *,
    title: str = "",
    catches: str = "",
    fix: str = "",
    kind: Kind = "static",
    per_storage: bool = True,
    mutating: bool = False,
    source: str = "",
) -> Callable[[F], F]:
    """Register ``fn`` as check ``id`` (``r2.<group>.<name>``)."""
    parts = id.split(".")
    if len(parts) != 3 or parts[0] != "r2" or parts[1] not in GROUPS:
        raise ValueError(f"check id {id!r} is not r2.<group>.<name> with a known group")
    if kind not in KINDS:
        raise ValueError(f"check {id}: kind {kind!r} is not one of {KINDS}")

    def register(fn: F) -> F:
        if id in REGISTRY:
            raise ValueError(f"check id {id!r} registered twice")
        given = {"title": title, "catches": catches, "fix": fix, "source": source}
        text = {**documented(fn), **{k: v for k, v in given.items() if v}}
        missing = [k for k in ("title", "catches", "fix") if not text.get(k)]
        if missing:
            raise ValueError(
                f"check {id}: its docstring gives no {', '.join(missing)} "
                "(a first paragraph, then paragraphs starting 'Catches:' and 'Fix:')"
            )
        REGISTRY[id] = Check(
            id,
            parts[1],
            text["title"],
            text["catches"],
            text["fix"],
            fn,
            kind,
            per_storage,
            mutating,
            text.get("source", ""),
        )
        return fn

    return register


def select(
    only: Collection[str] = (), skip_groups: Collection[str] = (), include_mutating: bool = True
) -> list[Check]:
    """Registered checks in group order, filtered as r2_check's flags say."""
    chosen = [
        c
        for c in REGISTRY.values()
        if (not only or c.id in only)
        and c.group not in skip_groups
        and (include_mutating or not c.mutating)
    ]
    return sorted(chosen, key=lambda c: GROUPS.index(c.group))
