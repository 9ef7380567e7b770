"""``r2_backfill --make-migration APP_LABEL``: write the project's one-off
backfill migration into APP_LABEL, after that app's latest migration (and
after the image model's app's latest, when that is another app), so it runs
once the R2 columns exist. Never overwrites anything."""

from collections.abc import Mapping
from typing import Any

from django.apps import apps as global_apps
from django.db.migrations import Migration
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.writer import MigrationWriter

from r2_toolkit.core import compat
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.migrations_r2.operations import BackfillLegacyMedia

NAME = "r2_backfill"
TEMPLATE = '''"""The one-off legacy media backfill: uploads the images still on local disk
(rows whose storage_key is NULL) to the bucket and fills their R2 fields.

Written by `manage.py r2_backfill --make-migration {app_label}`. A no-op without
legacy rows; stops `migrate` with the reason when the bucket cannot be written;
rows that fail are left for `manage.py r2_backfill` (docs/backfill.md).
"""

from django.db import migrations

import r2_toolkit.migrations_r2.operations


class Migration(migrations.Migration):
    atomic = False  # uploads take time: never hold one transaction around them

    dependencies = [
{dependencies}
    ]

    operations = [
        r2_toolkit.migrations_r2.operations.BackfillLegacyMedia(),
    ]
'''


class MigrationFileError(ValueError):
    """Why the migration cannot be written, with the fix."""


def latest(app_label: str) -> tuple[str, str] | None:
    leaves = compat.leaf_migrations(app_label)
    return sorted(leaves)[-1] if leaves else None


def existing_backfill(migrations: Mapping[tuple[str, str], Any], app_label: str) -> str | None:
    for (label, name), migration in migrations.items():
        if label == app_label and any(
            isinstance(op, BackfillLegacyMedia) for op in migration.operations
        ):
            return name
    return None


def plan(app_label: str) -> tuple[str, str]:
    """(path, source) of the migration to write; MigrationFileError otherwise."""
    try:
        global_apps.get_app_config(app_label)
    except LookupError:
        raise MigrationFileError(
            f"--make-migration {app_label!r}: no installed app has that label; "
            "name the app that holds your image model (e.g. --make-migration photos)."
        ) from None
    migrations = compat.disk_migrations(ignore_no_migrations=True)
    own = latest(app_label)
    if own is None:
        raise MigrationFileError(
            f"{app_label} has no migrations yet; run `python manage.py makemigrations "
            f"{app_label}` first, then --make-migration {app_label}."
        )
    found = existing_backfill(migrations, app_label)
    if found:
        raise MigrationFileError(
            f"{app_label} already has the backfill migration {found}; nothing to write."
        )
    dependencies = [own]
    # Field mode (no IMAGE_MODEL): the file fields' apps need no migration first.
    image_model = toolkit_settings.IMAGE_MODEL
    image_app = image_model.split(".")[0] if image_model is not None else app_label
    if image_app != app_label:
        other = latest(image_app)
        if other is not None:
            dependencies.append(other)
    number = max(
        (MigrationAutodetector.parse_number(n) or 0)
        for label, n in migrations
        if label == app_label
    )
    name = f"{number + 1:04d}_{NAME}"
    path = MigrationWriter(Migration(name, app_label)).path
    source = TEMPLATE.format(
        app_label=app_label,
        dependencies="\n".join(f'        ("{label}", "{name}"),' for label, name in dependencies),
    )
    return path, source


def write(app_label: str) -> str:
    """Write the migration; its path. MigrationFileError, never an overwrite."""
    path, source = plan(app_label)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(source)
    except FileExistsError:
        raise MigrationFileError(
            f"{path} already exists; remove or rename it, then run --make-migration again."
        ) from None
    except OSError as exc:
        raise MigrationFileError(f"cannot write {path}: {exc.strerror}.") from None
    return path
