"""Check results where CI reviewers look: GitHub Actions workflow commands
(``r2_check --format github``) and a Markdown table (``--format markdown``,
and the job summary ``--format github`` appends to $GITHUB_STEP_SUMMARY).

Workflow-command syntax (GitHub's "Workflow commands for GitHub Actions"):
``::error title=<t>::<message>``; in the message ``%``, ``\\r`` and ``\\n``
are escaped as ``%25``, ``%0D``, ``%0A``, in a property value ``:`` and
``,`` too (``%3A``, ``%2C``). Messages are made one line first, so a hostile
object key in a message cannot start a command of its own on a new line.
Everything passes through :func:`toolkit.core.redact.scrub` last.
"""

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from r2_toolkit.checks.registry import Result
from r2_toolkit.checks.runner import summarize
from r2_toolkit.core.redact import scrub
from r2_toolkit.core.severity import fails

STATUS_MARKS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail", "skip": "⏭️ skip"}


def one_line(text: object) -> str:
    return " ".join(str(text or "").split())


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def where(result: Result) -> str:
    alias = result.details.get("storage")
    return f"[{alias}] " if alias and alias != "default" else ""


def annotation_level(result: Result, fail_on: str) -> Literal["error", "warning"] | None:
    """``error`` for what fails the gate, ``warning`` for the other warnings."""
    if fails(result.status, fail_on):
        return "error"
    return "warning" if result.status == "warn" else None


def render_github(results: Sequence[Result], fail_on: str = "error") -> str:
    """One workflow command per failing or warning check (title = check id),
    then the verdict line."""
    lines: list[str] = []
    for result in results:
        level = annotation_level(result, fail_on)
        if level is None:
            continue
        message = one_line(f"{where(result)}{result.message}")
        hint = one_line(result.hint.splitlines()[0] if result.hint else "")
        if hint:
            message = f"{message} Fix: {hint}"
        title = escape_property(one_line(result.id))
        lines.append(f"::{level} title={title}::{escape_data(message)}")
    lines.append(verdict(results, fail_on))
    return scrub("\n".join(lines))


def verdict(results: Iterable[Result], fail_on: str) -> str:
    head = summarize(results, fail_on)
    counts = ", ".join(f"{n} {status}" for status, n in head["summary"].items())
    return f"r2_check {'OK' if head['ok'] else 'FAILED'}: {counts}"


def escape_cell(text: object) -> str:
    """A Markdown table cell: pipes, markup and line breaks neutralised."""
    text = str(text or "")
    for plain, escaped in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("`", "\\`"),
    ):
        text = text.replace(plain, escaped)
    return "<br>".join(line for line in text.replace("\r\n", "\n").split("\n"))


def render_markdown(results: Sequence[Result], fail_on: str = "error") -> str:
    """A heading with the verdict and a table of every check."""
    lines = [
        f"### {verdict(results, fail_on)}",
        "",
        "| status | check | storage | message | hint |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        hint = result.hint if result.status in ("warn", "fail") else ""
        cells = [
            STATUS_MARKS.get(result.status, result.status),
            f"`{result.id}`",
            escape_cell(result.details.get("storage") or ""),
            escape_cell(result.message),
            escape_cell(hint),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return scrub("\n".join(lines)) + "\n"


def append_step_summary(
    results: Sequence[Result], fail_on: str = "error", environ: Mapping[str, str] | None = None
) -> str | None:
    """Append the Markdown table to $GITHUB_STEP_SUMMARY when it is set;
    the path written, else None."""
    path = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(render_markdown(results, fail_on) + "\n")
    return path
