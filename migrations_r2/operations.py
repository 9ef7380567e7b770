"""The one-off backfill as a migration operation, for projects that want
``migrate`` to move the legacy media as part of the deploy.

The library ships no migration of its own that depends on a project's
migrations (a dependency on a node the project lacks breaks ``makemigrations``
for the whole project). Instead the project holds the migration, written by
``manage.py r2_backfill --make-migration APP_LABEL`` (:mod:`.migration_file`),
and it runs this operation over the same engine as ``r2_backfill``:

- it works in whichever mode the settings give: the record model's legacy
  rows when ``R2_TOOLKIT["IMAGE_MODEL"]`` is set, else the site's file fields;
- a no-op, without touching the network, when there are no legacy rows (fresh
  databases, CI: no file field holds a name), or the image model has no R2
  columns yet in this state;
- when the bucket cannot be written it stops ``migrate`` with the reason, so
  the migration is not recorded and runs again next time;
- rows that fail are reported and left for ``manage.py r2_backfill``; they do
  not block the deploy. Reverse is a no-op: the objects stay where they are.
"""

import sys
from typing import TYPE_CHECKING

from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, router
from django.db.migrations.operations.base import Operation

from r2_toolkit.core.conf import toolkit_settings

if TYPE_CHECKING:  # for the annotations only
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import ProjectState, StateApps
    from django.db.models import Model


class BackfillLegacyMedia(Operation):
    reversible = True
    reduces_to_sql = False
    atomic = False  # uploads take time: never inside one transaction
    elidable = True  # squashing drops it: a squashed history has no legacy rows

    def state_forwards(self, app_label: str, state: "ProjectState") -> None:
        pass  # data only

    def database_forwards(
        self,
        app_label: str,
        schema_editor: "BaseDatabaseSchemaEditor",
        from_state: "ProjectState",
        to_state: "ProjectState",
    ) -> None:
        if toolkit_settings.IMAGE_MODEL is None:
            if any_file_named(schema_editor.connection.alias):
                run(None)
            return
        model = historical_image_model(to_state.apps)
        if model is None or not router.allow_migrate_model(schema_editor.connection.alias, model):
            return
        storage_key = toolkit_settings.field("storage_key")
        if not model._default_manager.filter(**{f"{storage_key}__isnull": True}).exists():
            return
        run(model)

    def database_backwards(self, *args: object) -> None:
        # (app_label, schema_editor, from_state, to_state): unapplied, the
        # bucket keeps its objects; they are the rows' own files.
        pass

    def describe(self) -> str:
        return "Upload legacy MEDIA_ROOT files to the bucket (r2_backfill)"

    @property
    def migration_name_fragment(self) -> str:
        return "r2_backfill"


def historical_image_model(apps: "StateApps") -> "type[Model] | None":
    """IMAGE_MODEL as of this migration, or None before it has the R2 columns."""
    try:
        model = apps.get_model(toolkit_settings.IMAGE_MODEL)
        model._meta.get_field(toolkit_settings.field("storage_key"))
    except (LookupError, ValueError, FieldDoesNotExist):
        return None
    return model


def any_file_named(alias: str) -> bool:
    """Whether a file field of an installed model holds a name on ``alias``
    (a model whose table a later migration creates holds none)."""
    from r2_toolkit.core.files import concrete_file_fields

    for target in concrete_file_fields():
        if not router.allow_migrate_model(alias, target.model):
            continue
        try:
            if target.named().exists():
                return True
        except DatabaseError:
            continue  # its table is not there yet
    return False


def run(model: "type[Model] | None") -> None:
    """The engine over ``model`` (record mode), or the file fields (None)."""
    from django.core.management.base import CommandError

    from r2_toolkit.migrations_r2.engine import BackfillError, Options, run_backfill

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
