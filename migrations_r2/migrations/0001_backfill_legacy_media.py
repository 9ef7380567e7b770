"""The one-off backfill as a data migration: runs the r2_backfill engine on
the legacy rows right after the migration that adds the R2 columns.

It is a no-op, without touching the network, when there are no legacy rows
(fresh databases, CI). When the bucket cannot be written it stops
``migrate`` with the reason, so the migration is not recorded and runs again
next time. Rows that fail are reported and left for ``manage.py
r2_backfill`` (see docs/backfill.md); they do not block the deploy.
For large tables or parallel workers, run the command instead.
"""

import sys

from django.db import migrations

from toolkit.core.conf import toolkit_settings


def backfill_legacy_media(apps, schema_editor):
    from django.core.management.base import CommandError

    from migrations_r2.engine import BackfillError, Options, run_backfill

    label = toolkit_settings.IMAGE_MODEL
    model = apps.get_model(label)
    storage_key = toolkit_settings.field("storage_key")
    if not model._default_manager.filter(**{f"{storage_key}__isnull": True}).exists():
        return
    try:
        summary = run_backfill(Options(interactive=False), model=model)
    except BackfillError as exc:
        # CommandError: `migrate` prints the sentence, not a traceback.
        raise CommandError(f"legacy media backfill could not run: {exc}") from None
    sys.stdout.write(f"\n  legacy media backfill: {summary.text()}\n")
    if summary.failed:
        sys.stdout.write(
            "  run `manage.py r2_backfill --report backfill.jsonl` to see and "
            "retry the failed rows\n"
        )


class Migration(migrations.Migration):
    atomic = False  # uploads take time: never hold one transaction around them

    dependencies = [tuple(toolkit_settings.BACKFILL_AFTER_MIGRATION)]

    operations = [
        migrations.RunPython(backfill_legacy_media, migrations.RunPython.noop, elidable=True),
    ]
