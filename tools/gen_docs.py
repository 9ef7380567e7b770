"""docs/checks.md, generated from the check registry (``make docs``): a
build tool of this repository, so it lives outside the library and the wheel.

A test compares the committed file with this output, so the docs cannot
drift from the checks they describe.
"""

import os

KINDS = {
    "static": "settings only, no I/O",
    "db": "asks the database",
    "network": "talks to the bucket",
}

INTRO = """\
# Checks

Every check `manage.py r2_check` runs, by group, with its stable id. Ids are
part of the public contract: `--only` takes them, the JSON and JUnit reports
carry them, and they never change meaning. The static checks (settings only)
also run under Django's system check framework:
`python manage.py check --deploy --tag r2`.

This file is generated from the check registry by `make docs`; a test fails
when it drifts.
"""

# What a group as a whole does, where one sentence per check would not say it.
GROUP_NOTES = {
    "cors": 'A site that configures no browser origins (R2_TOOLKIT["CORS_ORIGINS"] empty) '
    "does no browser uploads: every check of this group is then `skip`, with that reason.",
    "schema": 'The target file fields (R2_TOOLKIT["FILE_FIELDS"], else every '
    "FileField/ImageField on the storage) are checked on every site; the record model's "
    'columns only where R2_TOOLKIT["IMAGE_MODEL"] names one (without it those checks skip).',
    "objects": "Read-only HEADs of the site's own files, so they run on `/debug/r2/` too.",
}


def render_checks_markdown():
    from r2_toolkit import checks  # noqa: F401  (registers every check)
    from r2_toolkit.checks.registry import GROUPS, select

    lines = [INTRO]
    registered = select()
    for group in GROUPS:
        members = [c for c in registered if c.group == group]
        if not members:
            continue
        lines.append(f"\n## {group}\n")
        if group in GROUP_NOTES:
            lines.append(f"{GROUP_NOTES[group]}\n")
        for check in members:
            scope = "per S3 storage alias" if check.per_storage else "once per run"
            extra = ", writes to the bucket (cleaned up)" if check.mutating else ""
            lines.append(f"### `{check.id}` — {check.title}\n")
            lines.append(f"*{KINDS[check.kind]}, {scope}{extra}*\n")
            lines.append(f"**Catches:** {check.catches}\n")
            lines.append(f"**Fix:** {check.fix}\n")
            if check.source:
                lines.append(f"**Source:** {check.source}\n")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")
    import django

    django.setup()
    print(render_checks_markdown(), end="")
