"""Report renderers for check results: text for people, JSON for pipelines,
JUnit XML for CI test tabs, one HTML page for people and CI artifacts (the
same page /debug/r2/ serves), GitHub workflow commands and Markdown
(toolkit.report_ci). Every renderer's output passes through
:func:`toolkit.core.redact.scrub` as its last step."""

import datetime
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Protocol, TypedDict
from xml.etree import ElementTree as ET

from django.template import Context, Engine

from r2_toolkit.checks.registry import GROUPS, REGISTRY, Result, ResultDict
from r2_toolkit.checks.runner import Summary, summarize
from r2_toolkit.core import severity
from r2_toolkit.core.redact import redact, scrub
from r2_toolkit.core.severity import fails
from r2_toolkit.toolkit.introspect import config_report
from r2_toolkit.toolkit.report_ci import render_github, render_markdown

SYMBOLS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


class Document(Summary):
    """r2_check's JSON document (``--format json``, /debug/r2/checks)."""

    checks: list[ResultDict]


class Renderer(Protocol):
    """A report format: the results as text. Some take keywords of their own
    (text: ``verbose``; html: ``config``, ``nonce``)."""

    def __call__(self, results: Sequence[Result], fail_on: str = ...) -> str: ...


def document(results: Sequence[Result], fail_on: str = "error") -> Document:
    """The r2_check JSON document as a dict, redacted."""
    head = summarize(results, fail_on)
    return redact({**head, "checks": [r.as_dict() for r in results]})


def render_json(results: Sequence[Result], fail_on: str = "error") -> str:
    return scrub(json.dumps(document(results, fail_on), indent=2, ensure_ascii=False))


def render_text(results: Sequence[Result], fail_on: str = "error", verbose: bool = False) -> str:
    lines = []
    for result in results:
        alias = result.details.get("storage")
        where = f" [{alias}]" if alias and alias != "default" else ""
        lines.append(f"{SYMBOLS[result.status]}  {result.id}{where}  {result.message}")
        if result.hint and result.status in ("warn", "fail"):
            lines.extend(f"        {line}" for line in result.hint.splitlines())
        if verbose and result.details:
            lines.append(f"        details: {json.dumps(result.details, default=str)}")
    head = summarize(results, fail_on)
    counts = ", ".join(f"{n} {status}" for status, n in head["summary"].items())
    lines.append("")
    lines.append(f"{'OK' if head['ok'] else 'FAILED'}: {counts}")
    return scrub("\n".join(lines))


def render_junit(results: Sequence[Result], fail_on: str = "error") -> str:
    head = summarize(results, fail_on)
    suite = ET.Element(
        "testsuite",
        name="r2_check",
        tests=str(len(results)),
        failures=str(head["summary"]["fail"]),
        skipped=str(head["summary"]["skip"]),
        time=f"{sum(r.duration_ms for r in results) / 1000:.3f}",
    )
    for result in results:
        alias = result.details.get("storage")
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"r2.{result.group}",
            name=f"{result.id}[{alias}]" if alias else result.id,
            time=f"{result.duration_ms / 1000:.3f}",
        )
        body = f"{result.message}\n{result.hint}".strip()
        if fails(result.status, fail_on):
            ET.SubElement(case, "failure", message=result.message).text = body
        elif result.status == "skip":
            ET.SubElement(case, "skipped", message=result.message)
        elif result.status == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING: {body}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return scrub(ET.tostring(suites, encoding="unicode", xml_declaration=True))


# --- HTML --------------------------------------------------------------------
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS_TEMPLATE = "r2_toolkit/status.html"


@functools.cache
def engine() -> Engine:
    """A template engine of the toolkit's own: the page renders the same in
    any project (whatever its TEMPLATES say, Jinja2 only, no APP_DIRS) and in
    r2_check, where no request exists. Autoescaping is on."""
    return Engine(dirs=[str(TEMPLATES)], autoescape=True)


def cors_fixes(checks: Iterable[ResultDict]) -> list[dict[str, object]]:
    """The corrected CORS rule sets printed in the failing or warning cors
    checks' hints, one per storage alias: [{"storage", "rules"}], the rules
    as indented JSON ready to paste."""
    fixes = {}
    for item in checks:
        if item["group"] != "cors" or item["status"] not in ("fail", "warn"):
            continue
        alias = item["details"].get("storage")
        rules = rules_in(item["hint"])
        if rules is not None and alias not in fixes:
            fixes[alias] = json.dumps(rules, indent=2, ensure_ascii=False)
    return [{"storage": alias, "rules": rules} for alias, rules in fixes.items()]


def rules_in(hint: str) -> list[dict[str, object]] | None:
    """The JSON list of rules that starts a line of ``hint``, else None."""
    start = hint.find("\n[")
    if start < 0:
        return None
    try:
        rules, _ = json.JSONDecoder().raw_decode(hint, start + 1)
    except ValueError:
        return None
    if isinstance(rules, list) and rules and all(isinstance(rule, dict) for rule in rules):
        return rules
    return None


def shown(value: object) -> str:
    """A configuration value as one line of text: scalars as they are, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def rows(mapping: Mapping[str, object]) -> list[tuple[str, str]]:
    return [(key, shown(value)) for key, value in mapping.items()]


class CheckGroup(TypedDict):
    """A group's section of the HTML page: its checks as the template reads them."""

    name: str
    checks: list[dict[str, object]]


def html_context(
    results: Sequence[Result], fail_on: str, config: Mapping[str, object]
) -> dict[str, object]:
    doc = document(results, fail_on)
    redacted = redact(config)
    summary = doc["summary"]
    failing = severity.failing(summary, fail_on)
    groups: list[CheckGroup] = []
    for group in GROUPS:
        items = [
            {
                **item,
                "title": REGISTRY[item["id"]].title if item["id"] in REGISTRY else "",
                "storage": item["details"].get("storage"),
                "anchor": f"{item['id']}--{item['details'].get('storage') or 'all'}",
                "details_json": json.dumps(item["details"], indent=2, ensure_ascii=False)
                if item["details"]
                else "",
            }
            for item in doc["checks"]
            if item["group"] == group
        ]
        if items:
            groups.append({"name": group, "checks": items})
    flagged = [item for group in groups for item in group["checks"]]
    problems = [item for item in flagged if item["status"] == "fail"]
    problems += [item for item in flagged if item["status"] == "warn"]
    try:
        version = metadata.version("r2-toolkit")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "ok": doc["ok"],
        "failing": failing,
        "summary": summary,
        "groups": groups,
        "problems": problems,
        "fixes": cors_fixes(doc["checks"]),
        "storages": [
            {"alias": report.get("alias"), "rows": rows(report)}
            for report in redacted.get("storages", [])
        ],
        "toolkit": rows(redacted.get("toolkit", {})),
        "legacy": rows(redacted.get("legacy_settings", {})),
        "other_storages": rows(redacted.get("other_storages", {})),
        "versions": rows(redacted.get("versions", {})),
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "version": version,
    }


def render_html(
    results: Sequence[Result],
    fail_on: str = "error",
    config: Mapping[str, object] | None = None,
    nonce: str | None = None,
) -> str:
    """One self-contained HTML page: the headline, every check by group with
    its hint, the CORS fix with a copy button, the redacted configuration and
    library versions. ``config``: config_report() unless given; ``nonce``:
    for a Content-Security-Policy that allows only the page's own script."""
    context = html_context(results, fail_on, config_report() if config is None else config)
    context["nonce"] = nonce
    return scrub(engine().get_template(STATUS_TEMPLATE).render(Context(context)))


RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "html": render_html,
    "github": render_github,
    "markdown": render_markdown,
}
