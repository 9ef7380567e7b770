"""Checks of the 'schema' group for the optional record model
(``R2_TOOLKIT["IMAGE_MODEL"]``, None by default): it resolves, its table
exists, the R2 columns it keeps (``FIELD_MAP`` maps any subset of the six)
have usable types, and public_url / storage_key are long enough for what this
configuration writes into them. Without a record model they skip.

:func:`inspect_schema` does the introspection once for the checks and for the
``/debug/r2/schema`` view (:func:`schema_report`).
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from r2_toolkit.checks.commands import migrate
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, skip
from r2_toolkit.checks.schema import (
    TEXT_TYPES,
    Column,
    database_label,
    migration_before,
    migrations_creating,
    model_change_fix,
    pending_migrations,
    require_database,
    table_columns,
)
from r2_toolkit.checks.schema_fields import field_report
from r2_toolkit.core import files
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.redact import scrub
from r2_toolkit.core.target import (
    TargetError,
    image_field,
    r2_fields,
    record_model,
    username_path,
    uses_template,
)

NO_RECORD_MODEL = (
    'No record model configured (R2_TOOLKIT["IMAGE_MODEL"] is not set): the site\'s file '
    "fields are checked by r2.schema.file_fields"
)
# Not the small integers: a smallint stops at 32767 (32 KB, or 32767 pixels).
INTEGER_TYPES = {
    "IntegerField",
    "PositiveIntegerField",
    "BigIntegerField",
    "PositiveBigIntegerField",
}
EXPECTED_TYPES = {
    "storage_key": TEXT_TYPES,
    "public_url": TEXT_TYPES,
    "mime_type": TEXT_TYPES,
    "width": INTEGER_TYPES,
    "height": INTEGER_TYPES,
    "size_bytes": INTEGER_TYPES,
}
# Registered image types are far shorter ("image/svg+xml"); 64 leaves room
# for vendor types without truncating them.
MIN_MIME_TYPE_LENGTH = 64
FOREIGN_INSTEAD = (
    'map the R2 fields onto fields it has that fit (R2_TOOLKIT["FIELD_MAP"]), or configure '
    'no record model (R2_TOOLKIT["IMAGE_MODEL"]) and let the toolkit work on its file '
    'fields (R2_TOOLKIT["FILE_FIELDS"]).'
)


@dataclass
class Schema:
    """The record model's table as the database reports it."""

    model: Any  # the record model class
    table: str
    exists: bool
    columns: dict[str, Column] = field(default_factory=dict)  # column name -> Column
    fields: dict[str, Any] = field(
        default_factory=dict
    )  # reference name -> model field (those it keeps)

    def column(self, reference_name: str) -> Column | None:
        kept = self.fields.get(reference_name)
        return self.columns.get(kept.column) if kept is not None else None

    @property
    def missing(self) -> list[str]:
        return [f.column for f in self.fields.values() if f.column not in self.columns]


def inspect_schema() -> Schema | None:
    """The record model's table as the database reports it, or None without a
    record model; raises TargetError for settings that point nowhere and
    DatabaseError when the database fails."""
    model = record_model()
    if model is None:
        return None
    schema = Schema(model, model._meta.db_table, exists=False, fields=r2_fields(model, ()))
    columns = table_columns(schema.table)
    schema.exists = columns is not None
    schema.columns = columns or {}
    return schema


def schema_report() -> dict[str, Any]:
    """The target file fields, the record table's columns (where a record
    model is configured) and the pending migrations, for the
    ``/debug/r2/schema`` view; never raises, never holds a secret."""
    report = {
        "file_fields": [],
        "model": None,  # the record model's label, once it resolves
        "table": None,
        "vendor": connection.vendor,
        "columns": [],
        "missing": [],
        "pending_migrations": [],
        "error": None,
    }
    try:
        report["pending_migrations"] = pending_migrations()
        report["file_fields"] = [field_report(t) for t in files.file_targets()]
        schema = inspect_schema()
        if schema is None:  # no record model: nothing wrong, nothing more to show
            return report
        report.update(
            model=schema.model._meta.label,
            table=schema.table,
            columns=[c.as_dict() for c in schema.columns.values()],
            missing=schema.missing if schema.exists else [f.column for f in schema.fields.values()],
        )
        if not schema.exists:
            report["error"] = f"the table {schema.table} does not exist"
    except TargetError as exc:
        report["error"] = scrub(f"{exc} ({exc.hint})")
    except Exception as exc:
        report["error"] = describe(exc)
    return report


def schema_or_outcome(ctx: CheckContext) -> Schema:
    """The schema, or raises Skip; configuration problems become failures of
    r2.schema.image_model only, so one mistake is reported once."""
    require_database(ctx)
    try:
        schema = inspect_schema()
    except TargetError as exc:
        raise Skip(f"{exc}; see r2.schema.image_model") from exc
    if schema is None:
        raise Skip(NO_RECORD_MODEL)
    if not schema.exists:
        raise Skip(f"the table {schema.table} does not exist; see r2.schema.image_model")
    return schema


# --- the checks ------------------------------------------------------------


@check("r2.schema.image_model", kind="db", per_storage=False)
def image_model_check(ctx: CheckContext) -> Outcome:
    """The record model, if one is configured, resolves and its table exists.

    Catches: An R2_TOOLKIT["IMAGE_MODEL"], FIELD_MAP or IMAGE_FIELD that names no model or
    field, or a model whose table was never created. Without a record model it skips.

    Fix: Point R2_TOOLKIT["IMAGE_MODEL"] at your record model ("app_label.ModelName"), map
    differently named fields in R2_TOOLKIT["FIELD_MAP"], and run migrate.
    """
    require_database(ctx)
    try:
        schema = inspect_schema()
        if schema is None:
            return skip(NO_RECORD_MODEL)
        image_field(schema.model)
        if uses_template():
            username_path(schema.model)
    except TargetError as exc:
        return fail(str(exc), exc.hint, model=toolkit_settings.IMAGE_MODEL)
    label = schema.model._meta.label
    if not schema.exists:
        adding = migrations_creating(schema.model)
        return fail(
            f"The table {schema.table} of {label} does not exist in the {database_label()}",
            f"Run `{migrate(schema.model._meta.app_label)}`"
            + (f" (it creates the table in {adding[0]})." if adding else "."),
            model=label,
            table=schema.table,
        )
    return ok(f"{label} is stored in the table {schema.table}.", model=label, table=schema.table)


def column_problems(schema: Schema) -> list[str]:
    """One sentence per R2 column whose type or nullability is unusable."""
    problems: list[str] = []
    for name in schema.fields:
        column = schema.column(name)
        if column is None:
            continue
        wanted = "a text" if EXPECTED_TYPES[name] is TEXT_TYPES else "an integer"
        if column.django_type not in EXPECTED_TYPES[name]:
            problems.append(f"{column.name} is {column.type}, not {wanted} type")
        elif name == "mime_type" and column.max_length and column.max_length < MIN_MIME_TYPE_LENGTH:
            problems.append(
                f"{column.name} holds only {column.max_length} characters "
                f"(at least {MIN_MIME_TYPE_LENGTH} needed for MIME types)"
            )
        if not column.null:
            problems.append(
                f"{column.name} is NOT NULL, but legacy rows have no value for it "
                "(null=True on the field)"
            )
    return problems


def missing_columns_cause(schema: Schema, missing: list[str]) -> tuple[str, str]:
    """(cause, hint) for R2 columns the model declares and the table lacks."""
    model, app = schema.model, schema.model._meta.app_label
    names = [f.name for f in schema.fields.values() if f.column in missing]
    adding = migrations_creating(model, names)
    if set(adding) & set(pending_migrations()):
        return f"the migration {', '.join(adding)} that adds them is not applied", (
            f"Run `{migrate(app)}`."
        )
    if adding:
        before = migration_before(adding[0])
        return (
            f"the migration {', '.join(adding)} is recorded as applied, but the database "
            "does not have them (faked, or dropped by hand)",
            f"Re-create them: `{migrate(app, before, fake=True)}` and then `{migrate(app)}`.",
        )
    return "no migration adds them", model_change_fix(model, None, FOREIGN_INSTEAD)


@check("r2.schema.columns", kind="db", per_storage=False)
def columns(ctx: CheckContext) -> Outcome:
    """The record model's R2 columns exist with usable types.

    Catches: storage_key, public_url, mime_type, width, height or size_bytes (those the record
    model keeps) missing from the table (a model migrated on paper only), of the wrong type, or
    NOT NULL.

    Fix: Apply the migration that adds the columns (`python manage.py migrate`); give them
    text/integer types and null=True on the model, then makemigrations and migrate.
    """
    schema = schema_or_outcome(ctx)
    label = schema.model._meta.label
    if not schema.fields:
        return skip(f'{label} keeps none of the six R2 columns (R2_TOOLKIT["FIELD_MAP"]).')
    found = {c.name: c.as_dict() for c in map(schema.column, schema.fields) if c is not None}
    missing = schema.missing
    if missing:
        cause, hint = missing_columns_cause(schema, missing)
        return fail(
            f"The table {schema.table} lacks the column(s) {', '.join(missing)} that "
            f"{label} declares: {cause}",
            hint,
            missing=missing,
            migrations=migrations_creating(
                schema.model, [f.name for f in schema.fields.values() if f.column in missing]
            ),
            columns=found,
        )
    problems = column_problems(schema)
    if problems:
        return fail(
            f"Unusable R2 column(s) in {schema.table}: {'; '.join(problems)}",
            model_change_fix(
                schema.model,
                f"Fix the fields of {label} (text types for storage_key, public_url and "
                "mime_type, integer types for width, height and size_bytes, all null=True)",
                FOREIGN_INSTEAD,
            ),
            problems=problems,
            columns=found,
        )
    kept = ", ".join(schema.fields)
    return ok(
        f"The R2 columns of {schema.table} ({kept}) exist with usable types, all nullable.",
        columns=found,
    )
