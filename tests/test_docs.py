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
