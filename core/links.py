"""Where the documentation lives for a user of the wheel: the wheel ships no
docs/, so output that points at a page points at its URL (the Documentation
URL in pyproject.toml's [project.urls]; a test keeps the two equal)."""

DOCUMENTATION = "https://github.com/r2-toolkit/r2-toolkit/tree/main/docs"


def doc_url(page: str) -> str:
    """The URL of ``page`` (``"audit.md"``) in the project's documentation."""
    return f"{DOCUMENTATION}/{page}"
