"""``r2_check --format github`` and ``--format markdown``: what GitHub Actions
parses out of the log (workflow commands) and renders in the job summary
(a Markdown table), including messages that carry hostile object keys."""

import re
import subprocess
import sys
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from gallery import emulator
from r2_toolkit.checks.registry import Result
from r2_toolkit.core.redact import scrub
from r2_toolkit.toolkit.report_ci import render_github, render_markdown
from tests.support.servers import ROOT, manage_env

# GitHub's parser: "::" command, optional " " properties, "::" then the data.
COMMAND = re.compile(r"^::(?P<name>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<data>.*)$")


def unescape_data(text):
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text):
    return unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def parse_commands(output):
    commands = []
    for line in output.splitlines():
        found = COMMAND.match(line)
        if found:
            props = dict(
                item.split("=", 1) for item in (found["props"] or "").split(",") if "=" in item
            )
            commands.append(
                (
                    found["name"],
                    {k: unescape_property(v) for k, v in props.items()},
                    unescape_data(found["data"]),
                )
            )
    return commands


def result(status, message="m", hint="", storage=None, check_id="r2.cors.put"):
    details = {"storage": storage} if storage else {}
    return Result(check_id, "cors", status, message, hint, 1.0, details)


def test_one_command_per_failing_or_warning_check_titled_with_its_id():
    results = [
        result("pass", check_id="r2.storages.backend"),
        result("fail", "CORS refuses PUT from https://app", "Add PUT.\n[{...}]"),
        result("warn", "no custom domain", storage="private", check_id="r2.settings.domain"),
        result("skip", check_id="r2.roundtrip.upload"),
    ]
    commands = parse_commands(render_github(results))
    assert commands == [
        ("error", {"title": "r2.cors.put"}, "CORS refuses PUT from https://app Fix: Add PUT."),
        ("warning", {"title": "r2.settings.domain"}, "[private] no custom domain"),
    ]
    assert render_github(results).splitlines()[-1] == (
        "r2_check FAILED: 1 pass, 1 warn, 1 fail, 1 skip"
    )
    # --fail-on warning: the warnings fail the gate, so they are errors.
    strict = parse_commands(render_github(results, "warning"))
    assert [name for name, _, _ in strict] == ["error", "error"]


@settings(max_examples=200, deadline=None)
@given(message=st.text(), check_id=st.text(min_size=1))
def test_a_hostile_message_is_one_command_and_reads_back_as_one_line(message, check_id):
    output = render_github([result("fail", message, check_id=check_id)])
    lines = output.splitlines()
    assert len(lines) == 2, "the message must not add a line of its own"
    commands = parse_commands(lines[0])
    assert len(commands) == 1
    name, props, data = commands[0]
    assert name == "error"
    assert "\n" not in data and "\r" not in data
    if scrub(message) == message and scrub(check_id) == check_id:  # else a mask stands in
        assert data == " ".join(message.split())
        assert props["title"] == " ".join(check_id.split())


def split_cells(row):
    """A GFM table row's cells: split on pipes that are not backslash-escaped."""
    cells, current, escaped = [], "", False
    for char in row.strip()[1:-1]:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
    cells.append(current)
    return [cell.strip() for cell in cells]


@settings(max_examples=200, deadline=None)
@given(message=st.text(), hint=st.text(), storage=st.text())
def test_markdown_cells_hold_any_text_in_one_row(message, hint, storage):
    table = render_markdown([result("fail", message, hint, storage=storage or None)])
    lines = table.rstrip("\n").split("\n")
    assert len(lines) == 5, "heading, blank, header, rule, one row"
    cells = split_cells(lines[4])
    assert len(cells) == 5
    assert cells[0] == "❌ fail" and cells[1] == "`r2.cors.put`"
    assert "<" not in cells[3].replace("<br>", "")  # no markup gets through


def test_markdown_lists_every_check_with_hints_of_the_failing_only():
    table = render_markdown(
        [result("pass", "fine", "never shown"), result("fail", "a | b", "line 1\nline 2")]
    )
    rows = table.strip().split("\n")[4:]
    assert len(rows) == 2
    assert split_cells(rows[0])[4] == ""
    assert split_cells(rows[1])[3] == "a \\| b"
    assert split_cells(rows[1])[4] == "line 1<br>line 2"


def test_r2_check_in_github_actions_annotates_and_writes_the_job_summary(moto_server, tmp_path):
    """A real run: a bucket whose CORS lets the browser GET but not PUT fails
    the cors checks; GitHub sees ::error lines and the summary gets the table."""
    bucket = moto_server.new_bucket_name("gh")
    emulator.provision(moto_server.client(), bucket, cors=False)
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    env = manage_env(moto_server, bucket, tmp_path, GITHUB_STEP_SUMMARY=str(summary))
    run = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "r2_check", "--format", "github"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    commands = parse_commands(run.stdout)
    titles = {props["title"] for name, props, _ in commands if name == "error"}
    assert any(title.startswith("r2.cors.") for title in titles), run.stdout
    assert all(name in ("error", "warning") for name, _, _ in commands)
    assert run.stdout.splitlines()[-1].startswith("r2_check FAILED: ")
    written = summary.read_text()
    assert written.startswith("earlier step\n### r2_check FAILED")  # appended, not replaced
    table_ids = set(re.findall(r"^\| [^|]+ \| `([^`]+)` \|", written, re.M))
    listed = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "r2_check", "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert table_ids == {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert env["AWS_SECRET_ACCESS_KEY"] not in run.stdout + written
    # --format markdown prints the same table.
    markdown = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "r2_check", "--format", "markdown"],
        cwd=ROOT,
        env={k: v for k, v in env.items() if k != "GITHUB_STEP_SUMMARY"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert markdown.stdout.startswith("### r2_check FAILED")
    assert urllib.parse.quote("|") not in markdown.stdout
