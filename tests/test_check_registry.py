"""The registry reads what a check is for from its docstring, once."""

import pytest

from r2_toolkit.checks import registry
from r2_toolkit.checks.registry import REGISTRY, check, documented


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", {})
    return registry


def test_the_docstring_gives_title_catches_fix_and_source(scratch_registry):
    @check("r2.settings.example")
    def example(ctx):
        """The example is set.

        Catches: An unset example, which breaks
        every URL.

        Fix: Set EXAMPLE = "x".

        Source: the team's write-up.

        A note for maintainers, not shown.
        """

    made = scratch_registry.REGISTRY["r2.settings.example"]
    assert (made.title, made.catches, made.fix, made.source) == (
        "The example is set",
        "An unset example, which breaks every URL.",
        'Set EXAMPLE = "x".',
        "the team's write-up.",
    )


def test_a_text_passed_to_check_wins_over_none_in_the_docstring(scratch_registry):
    @check("r2.settings.shared_fix", fix="A hint several checks share.")
    def shared_fix(ctx):
        """Shared.

        Catches: Something.
        """

    assert scratch_registry.REGISTRY["r2.settings.shared_fix"].fix == "A hint several checks share."


@pytest.mark.parametrize(
    "doc, missing",
    [
        (None, "title, catches, fix"),
        ("Title only.", "catches, fix"),
        ("Title.\n\nCatches: x.\n\nFixes: a typo'd label.", "fix"),
    ],
)
def test_a_check_without_its_texts_is_refused_at_import(scratch_registry, doc, missing):
    def undocumented(ctx):
        pass

    undocumented.__doc__ = doc
    with pytest.raises(ValueError, match=f"gives no {missing}"):
        check("r2.settings.undocumented")(undocumented)


def test_every_registered_check_reads_its_texts_from_one_place():
    for found in REGISTRY.values():
        texts = documented(found.fn)
        assert found.title and found.catches and found.fix
        # What the docstring gives is what the registry holds (a constant
        # passed to @check fills only what the docstring leaves out).
        for field, text in texts.items():
            assert getattr(found, field) == text, (found.id, field)
