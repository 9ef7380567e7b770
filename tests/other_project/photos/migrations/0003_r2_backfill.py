"""The one-off legacy media backfill: uploads the images still on local disk
(rows whose storage_key is NULL) to the bucket and fills their R2 fields.

Written by `manage.py r2_backfill --make-migration photos`. A no-op without
legacy rows; stops `migrate` with the reason when the bucket cannot be written;
rows that fail are left for `manage.py r2_backfill` (docs/backfill.md).
"""

from django.db import migrations

import r2_toolkit.migrations_r2.operations


class Migration(migrations.Migration):
    atomic = False  # uploads take time: never hold one transaction around them

    dependencies = [
        ("photos", "0002_r2_fields"),
    ]

    operations = [
        r2_toolkit.migrations_r2.operations.BackfillLegacyMedia(),
    ]
