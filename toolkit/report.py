"""Report renderers for check results: text for people, JSON for pipelines,
JUnit XML for CI test tabs. Every renderer's output passes through
:func:`toolkit.core.redact.scrub` as its last step."""

import json
from xml.etree import ElementTree as ET

from checks.runner import summarize
from toolkit.core.redact import redact, scrub

SYMBOLS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def document(results, fail_on="error"):
    """The r2_check JSON document as a dict, redacted."""
    head = summarize(results, fail_on)
    return redact({**head, "checks": [r.as_dict() for r in results]})


def render_json(results, fail_on="error"):
    return scrub(json.dumps(document(results, fail_on), indent=2, ensure_ascii=False))


def render_text(results, fail_on="error", verbose=False):
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


def render_junit(results, fail_on="error"):
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
        if result.status == "fail" or (result.status == "warn" and fail_on == "warning"):
            ET.SubElement(case, "failure", message=result.message).text = body
        elif result.status == "skip":
            ET.SubElement(case, "skipped", message=result.message)
        elif result.status == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING: {body}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return scrub(ET.tostring(suites, encoding="unicode", xml_declaration=True))


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit}
