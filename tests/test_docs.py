"""docs/checks.md is generated from the registry and must not drift."""

from pathlib import Path

from tools.gen_docs import render_checks_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "checks.md"


def test_checks_doc_matches_the_registry():
    assert DOC.exists(), "docs/checks.md is missing: run `make docs`"
    assert DOC.read_text() == render_checks_markdown(), (
        "docs/checks.md is out of date with the check registry: run `make docs`"
    )


def test_every_check_documents_what_it_catches_and_the_fix():
    from r2_toolkit import checks  # noqa: F401
    from r2_toolkit.checks.registry import REGISTRY

    for check in REGISTRY.values():
        assert check.title and check.catches and check.fix, check.id


def test_the_documentation_url_is_the_one_pyproject_publishes():
    import tomllib

    from r2_toolkit.core.links import DOCUMENTATION

    project = tomllib.loads((DOC.parent.parent / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Documentation"] == DOCUMENTATION


def test_reports_point_at_the_docs_by_url_since_the_wheel_has_no_docs_folder():
    from collections import Counter

    from r2_toolkit.core.links import doc_url
    from r2_toolkit.migrations_r2.audit import AuditResult
    from r2_toolkit.migrations_r2.audit_report import render_text
    from r2_toolkit.migrations_r2.report import VerifyResult

    verify = VerifyResult(rows=3, mismatched=1).text().splitlines()[-1]
    audit = render_text(AuditResult(counts=Counter(missing_object=1))).splitlines()[-1]
    for line in (verify, audit):
        assert doc_url("audit.md") in line and (DOC.parent / "audit.md").exists(), line
