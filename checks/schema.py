"""Checks of the 'schema' group: the database answers, every migration is
applied, and the image model's table holds the six R2 columns with usable
types, nullability and lengths -- as the database itself reports them
(introspection), because a model can declare a column its migration never
created.

:func:`inspect_schema` does the introspection once for the checks and for the
``/debug/r2/schema`` view (:func:`schema_report`).
"""

import re
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models.functions import Length
from storages.utils import clean_name, safe_join

from r2_toolkit.checks.registry import Skip, check, fail, ok, warn
from r2_toolkit.toolkit.core.conf import R2_FIELDS, toolkit_settings
from r2_toolkit.toolkit.core.errors import describe
from r2_toolkit.toolkit.core.keys import storage_name
from r2_toolkit.toolkit.core.redact import scrub
from r2_toolkit.toolkit.core.storage import is_r2_endpoint
from r2_toolkit.toolkit.core.target import (
    ImageTarget,
    TargetError,
    image_field,
    image_model,
    r2_fields,
    username_path,
)

MIGRATE = "python manage.py migrate"
TEXT_TYPES = {"CharField", "TextField"}
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


@dataclass
class Column:
    name: str
    type: str  # as the database names it
    django_type: str | None  # the field class Django maps it to (None: no match)
    null: bool
    max_length: int | None

    def as_dict(self):
        return {
            "name": self.name,
            "type": self.type,
            "null": self.null,
            "max_length": self.max_length,
        }


@dataclass
class Schema:
    """The image table as the database reports it."""

    model: type
    table: str
    exists: bool
    columns: dict = field(default_factory=dict)  # column name -> Column
    fields: dict = field(default_factory=dict)  # reference name -> model field

    def column(self, reference_name):
        return self.columns.get(self.fields[reference_name].column)

    @property
    def missing(self):
        return [f.column for f in self.fields.values() if f.column not in self.columns]


# --- configuration ---------------------------------------------------------


def database_label():
    """Where the database is, in words, never with its password."""
    db = settings.DATABASES["default"]
    vendor = connection.vendor
    if vendor == "sqlite":
        return f"sqlite database {db.get('NAME')}"
    where = db.get("HOST") or "localhost"
    if db.get("PORT"):
        where += f":{db['PORT']}"
    return f"{vendor} database {db.get('NAME')} at {where}"


# --- the database ----------------------------------------------------------


def ping_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def require_database(ctx):
    """Skip the calling check unless the database answered (asked once per run)."""
    try:
        ctx.shared("schema.database", ping_database)
    except Exception as exc:
        raise Skip("the database does not answer; see r2.schema.database") from exc


def migration_plan():
    """Unapplied migrations, in the order `migrate` would apply them."""
    # Imported here, not at start-up: every manage.py command imports this module.
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    return [migration for migration, backwards in executor.migration_plan(targets) if not backwards]


def pending_migrations():
    return [f"{m.app_label}.{m.name}" for m in migration_plan()]


def migrations_creating(model, field_names=None):
    """'app.migration' names that create ``model``'s table, or (with
    ``field_names``) any of those fields, in migration order."""
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import AddField, CreateModel

    model_name = model._meta.model_name
    found = []
    for (app_label, name), migration in sorted(MigrationLoader(None).disk_migrations.items()):
        if app_label != model._meta.app_label:
            continue
        for operation in migration.operations:
            if isinstance(operation, CreateModel) and operation.name_lower == model_name:
                creates = {n for n, _ in operation.fields} if field_names else {"table"}
            elif (
                isinstance(operation, AddField)
                and field_names
                and operation.model_name_lower == model_name
            ):
                creates = {operation.name}
            else:
                continue
            if creates & set(field_names or {"table"}) and f"{app_label}.{name}" not in found:
                found.append(f"{app_label}.{name}")
    return found


def db_type_name(info):
    """The column's type as the database names it ('varchar(200)', 'int4')."""
    code = info.type_code
    if isinstance(code, str):  # SQLite reports the declared type itself
        return code
    registry = getattr(getattr(connection.connection, "adapters", None), "types", None)
    known = registry.get(code) if registry is not None else None
    name = getattr(known, "name", None) or str(code)
    size = info.display_size or info.internal_size
    return f"{name}({size})" if name in ("varchar", "bpchar") and size else name


def to_column(info):
    try:
        django_type = connection.introspection.get_field_type(info.type_code, info)
    except KeyError:  # a type Django has no field for
        django_type = None
    if isinstance(django_type, tuple):
        django_type = django_type[0]
    # PostgreSQL's internal_size of an integer is its width in bytes, not a length.
    max_length = (info.display_size or info.internal_size) if django_type in TEXT_TYPES else None
    if max_length is not None and max_length < 0:  # PostgreSQL: unbounded
        max_length = None
    return Column(info.name, db_type_name(info), django_type, bool(info.null_ok), max_length)


def inspect_schema():
    """The image model's table as the database reports it; raises TargetError
    for settings that point nowhere and DatabaseError when the database fails."""
    model = image_model()
    schema = Schema(model, model._meta.db_table, exists=False, fields=r2_fields(model))
    with connection.cursor() as cursor:
        # Look before describing: on PostgreSQL a failed query aborts the
        # surrounding transaction.
        schema.exists = schema.table in connection.introspection.table_names(cursor)
        if schema.exists:
            description = connection.introspection.get_table_description(cursor, schema.table)
            schema.columns = {info.name: to_column(info) for info in description}
    return schema


def schema_report():
    """The image table's columns and the pending migrations, for the
    ``/debug/r2/schema`` view; never raises, never holds a secret."""
    report = {
        "model": None,  # the label, once it resolves
        "table": None,
        "vendor": connection.vendor,
        "columns": [],
        "missing": [],
        "pending_migrations": [],
        "error": None,
    }
    try:
        report["pending_migrations"] = pending_migrations()
        schema = inspect_schema()
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


def schema_or_outcome(ctx):
    """The schema, or raises Skip; configuration problems become failures of
    r2.schema.image_model only, so one mistake is reported once."""
    require_database(ctx)
    try:
        schema = inspect_schema()
    except TargetError as exc:
        raise Skip(f"{exc}; see r2.schema.image_model") from exc
    if not schema.exists:
        raise Skip(f"the table {schema.table} does not exist; see r2.schema.image_model")
    return schema


# --- the checks ------------------------------------------------------------


@check(
    "r2.schema.database",
    kind="db",
    per_storage=False,
    title="The database answers",
    catches="A database that is down, unreachable or refuses the configured credentials.",
    fix="Check DATABASE_URL (host, port, name, user, password) and that the database "
    "server is running and reachable from this host.",
)
def database(ctx):
    try:
        ctx.shared("schema.database", ping_database)
    except Exception as exc:
        return fail(
            f"The {database_label()} does not answer: {describe(exc)}",
            "Check DATABASE_URL (host, port, database name, user, password) and that "
            "the database server is running and reachable from this host.",
            database=database_label(),
        )
    return ok(f"The {database_label()} answers.", database=database_label())


@check(
    "r2.schema.migrations",
    kind="db",
    per_storage=False,
    title="Every migration is applied",
    catches="Unapplied migrations, e.g. the one adding the R2 columns, deployed code "
    "running against an old schema.",
    fix="Run `python manage.py migrate` as a step of the deploy, before the new code serves.",
)
def migrations(ctx):
    require_database(ctx)
    pending = pending_migrations()
    if pending:
        return fail(
            f"{len(pending)} migration(s) are not applied: {', '.join(pending)}",
            f"Run `{MIGRATE}` before the new code serves requests.",
            pending=pending,
        )
    return ok("Every migration is applied.", pending=[])


@check(
    "r2.schema.image_model",
    kind="db",
    per_storage=False,
    title="The image model resolves and its table exists",
    catches='An R2_TOOLKIT["IMAGE_MODEL"], FIELD_MAP or IMAGE_FIELD that names no model or '
    "field, or a model whose table was never created.",
    fix='Point R2_TOOLKIT["IMAGE_MODEL"] at your image model ("app_label.ModelName"), map '
    'differently named fields in R2_TOOLKIT["FIELD_MAP"], and run migrate.',
)
def image_model_check(ctx):
    require_database(ctx)
    try:
        schema = inspect_schema()
        image_field(schema.model)
        username_path(schema.model)
    except TargetError as exc:
        return fail(str(exc), exc.hint, model=toolkit_settings.IMAGE_MODEL)
    label = schema.model._meta.label
    if not schema.exists:
        adding = migrations_creating(schema.model)
        return fail(
            f"The table {schema.table} of {label} does not exist in the {database_label()}",
            f"Run `{MIGRATE} {schema.model._meta.app_label}`"
            + (f" (it creates the table in {adding[0]})." if adding else "."),
            model=label,
            table=schema.table,
        )
    return ok(f"{label} is stored in the table {schema.table}.", model=label, table=schema.table)


def column_problems(schema):
    """One sentence per R2 column whose type or nullability is unusable."""
    problems = []
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


@check(
    "r2.schema.columns",
    kind="db",
    per_storage=False,
    title="The six R2 columns exist with usable types",
    catches="storage_key, public_url, mime_type, width, height or size_bytes missing from the "
    "table (a model migrated on paper only), of the wrong type, or NOT NULL.",
    fix="Apply the migration that adds the columns (`python manage.py migrate`); give them "
    "text/integer types and null=True on the model, then makemigrations and migrate.",
)
def columns(ctx):
    schema = schema_or_outcome(ctx)
    label, app = schema.model._meta.label, schema.model._meta.app_label
    found = {c.name: c.as_dict() for c in map(schema.column, R2_FIELDS) if c is not None}
    missing = schema.missing
    if missing:
        names = [f.name for f in schema.fields.values() if f.column in missing]
        adding = migrations_creating(schema.model, names)
        pending = set(pending_migrations())
        if set(adding) & pending:
            cause = f"the migration {', '.join(adding)} that adds them is not applied"
            hint = f"Run `{MIGRATE} {app}`."
        elif adding:
            cause = (
                f"the migration {', '.join(adding)} is recorded as applied, but the database "
                "does not have them (faked, or dropped by hand)"
            )
            hint = (
                f"Re-create them: `{MIGRATE} --fake {app} <the migration before "
                f"{adding[0]}>` and then `{MIGRATE} {app}`."
            )
        else:
            cause = "no migration adds them"
            hint = f"Run `python manage.py makemigrations {app}` and then `{MIGRATE} {app}`."
        return fail(
            f"The table {schema.table} lacks the column(s) {', '.join(missing)} that "
            f"{label} declares: {cause}",
            hint,
            missing=missing,
            migrations=adding,
            columns=found,
        )
    problems = column_problems(schema)
    if problems:
        return fail(
            f"Unusable R2 column(s) in {schema.table}: {'; '.join(problems)}",
            f"Fix the fields of {label} (text types for storage_key, public_url and "
            "mime_type, integer types for width, height and size_bytes, all null=True), "
            f"then `python manage.py makemigrations {app}` and `{MIGRATE} {app}`.",
            problems=problems,
            columns=found,
        )
    return ok(
        f"The six R2 columns of {schema.table} exist with usable types, all nullable.",
        columns=found,
    )


# --- lengths: the keys and URLs this configuration produces ---------------


def storage_for_lengths(ctx):
    try:
        return ctx.storage()
    except Skip:
        raise
    except Exception as exc:
        raise Skip(f"the storage could not be built ({describe(exc)}); see r2.storages") from exc


def object_key(storage, name):
    """The key the storage writes ``name`` under (its location as prefix)."""
    return safe_join(storage.location, clean_name(name))


def public_url(storage, name):
    """The URL the app stores for ``name``: never with a signature (the
    settings checks flag signed URLs)."""
    return storage.url(name).split("?", 1)[0]


@dataclass
class LengthNeed:
    longest_now: int  # for the longest file name in the table (0: no rows)
    longest_possible: int  # for a name as long as the image field allows
    example: str | None
    rows_too_long: int


def length_need(schema, measure, limit, location):
    """How long a column must be for ``measure(name)`` over the table's rows.

    One ORDER BY length query finds the longest legacy name, measured under
    the name the backfill gives it (its key scheme); a count of names longer
    than what fits tells about how many rows would not (an estimate: names
    outside the app's layout and percent-encoding grow longer still). The
    longest possible is a name in the app's layout as long as the field allows:
    such names keep their name as key."""
    file_field = image_field(schema.model)
    rows = schema.model._default_manager.annotate(r2_name_length=Length(file_field.name))
    longest = (
        rows.order_by("-r2_name_length")
        .values_list(file_field.name, username_path(schema.model))
        .first()
    )
    example = storage_name(*longest, location) if longest else None
    overhead = measure("a") - 1
    too_long = rows.filter(r2_name_length__gt=limit - overhead).count() if limit else 0
    return LengthNeed(
        measure(example) if example else 0,
        measure("a" * (file_field.max_length or 100)),
        example,
        too_long,
    )


def alter_field_fix(model, field_, max_length):
    """The migration operation that widens ``field_``, as makemigrations writes it."""
    name, path, args, kwargs = field_.deconstruct()
    widened = type(field_)(*args, **{**kwargs, "max_length": max_length})
    from django.db.migrations.operations import AlterField
    from django.db.migrations.writer import OperationWriter

    operation = AlterField(model_name=model._meta.model_name, name=field_.name, field=widened)
    text, _ = OperationWriter(operation, indentation=0).serialize()
    return re.sub(r"\s*\n\s*", " ", text).replace("( ", "(").replace(", )", ")").rstrip(",")


def length_check(ctx, reference_name, measure, what):
    schema = schema_or_outcome(ctx)
    column = schema.column(reference_name)
    if column is None:
        raise Skip(
            f"the column {schema.fields[reference_name].column} is missing; see r2.schema.columns"
        )
    try:
        image_field(schema.model)
        username_path(schema.model)
    except TargetError as exc:
        raise Skip(f"{exc}; see r2.schema.image_model") from exc
    limit = column.max_length
    storage = storage_for_lengths(ctx)
    need = length_need(schema, lambda name: len(measure(storage, name)), limit, storage.location)
    details = {
        "column": column.name,
        "max_length": limit,
        "longest_now": need.longest_now,
        "longest_possible": need.longest_possible,
    }
    if limit is None:
        return ok(f"{column.name} has no length limit ({column.type}).", **details)
    field_ = schema.fields[reference_name]
    wanted = -(-max(need.longest_possible, need.longest_now) // 100) * 100  # next hundred
    hint = (
        f"Set max_length={wanted} on {schema.model._meta.label}.{field_.name}, then "
        f"`python manage.py makemigrations {schema.model._meta.app_label}` and `{MIGRATE}`; "
        f"the migration is: {alter_field_fix(schema.model, field_, wanted)}"
    )
    if need.longest_now > limit:
        return fail(
            f"{column.name} holds {limit} characters, but the {what} of existing rows "
            f"need up to {need.longest_now} (about {need.rows_too_long} row(s) would not "
            f"fit, e.g. {scrub(measure(storage, need.example))})",
            hint,
            **details,
        )
    if need.longest_possible > limit:
        return warn(
            f"{column.name} holds {limit} characters, but the {what} of a file name as "
            f"long as {schema.model._meta.label}.{toolkit_settings.IMAGE_FIELD} allows "
            f"would need {need.longest_possible}; "
            + (
                f"existing rows fit (up to {need.longest_now})"
                if need.example
                else "the table has no rows yet"
            ),
            hint,
            **details,
        )
    return ok(
        f"{column.name} ({limit} characters) fits the {what} this configuration "
        f"produces (up to {need.longest_possible}).",
        **details,
    )


@check(
    "r2.schema.public_url_length",
    kind="db",
    per_storage=False,
    title="public_url is long enough for this configuration's URLs",
    catches="A public_url column (the reference schema's varchar(200)) too short for the "
    "URLs the storage builds from long file names and the custom domain.",
    fix="Raise max_length of the public_url field to the length the check names "
    "(an AlterField migration), then migrate.",
)
def public_url_length(ctx):
    return length_check(ctx, "public_url", public_url, "public URLs")


@check(
    "r2.schema.storage_key_length",
    kind="db",
    per_storage=False,
    title="storage_key is long enough for this configuration's object keys",
    catches="A storage_key column too short for the object keys (location prefix plus file "
    "name) the storage writes.",
    fix="Raise max_length of the storage_key field to the length the check names "
    "(an AlterField migration), then migrate.",
)
def storage_key_length(ctx):
    return length_check(ctx, "storage_key", object_key, "object keys")


# --- Unicode normalization -------------------------------------------------------
NON_ASCII = r"[^\x01-\x7f]"  # only such names can change under NFC (a regex every backend runs)
SHOWN_PAIRS = 3


def unicode_keys(target):
    """{object key: [row pk, ...]} for every row with a non-ASCII name: the key a
    legacy row will get (the backfill's key scheme) and a migrated row's storage_key."""
    fields = target.fields
    keys = {}
    legacy = target.legacy().filter(**{f"{target.image_field}__regex": NON_ASCII})
    for pk, name, username in legacy.values_list("pk", target.image_field, target.username_path):
        keys.setdefault(storage_name(name, username), []).append(pk)
    migrated = target.migrated().filter(**{f"{fields['storage_key']}__regex": NON_ASCII})
    for pk, key in migrated.values_list("pk", fields["storage_key"]):
        keys.setdefault(key, []).append(pk)
    return keys


def normal_form(text):
    return next(
        (f for f in ("NFC", "NFD") if unicodedata.is_normalized(f, text)), "neither NFC nor NFD"
    )


def collapsing_groups(keys):
    """The groups of distinct keys in ``keys`` (key -> anything) that R2 stores as one
    object because they are equal in NFC, each group in ``keys``' order."""
    by_nfc = {}
    for key, value in keys.items():
        by_nfc.setdefault(unicodedata.normalize("NFC", key), []).append((key, value))
    return [group for group in by_nfc.values() if len(group) > 1]


@check(
    "r2.schema.unicode_names",
    kind="db",
    per_storage=False,
    title="R2: no two file names collapse into one key under Unicode normalization",
    catches="File names in NFD (as a Mac's disk writes them) beside the same names in NFC: "
    "R2 normalizes keys to NFC, so the two become one object and one image replaces, or "
    "blocks, the other.",
    fix="Rename one file of each pair the message names, on disk and in its row, so no two "
    "names are equal once normalized to NFC; then run the backfill.",
    source="Cloudflare R2 docs, Unicode interoperability ('we have chosen to NFC-normalize "
    "key names before storing')",
)
def unicode_names(ctx):
    try:
        endpoint = ctx.storage().endpoint_url
    except ImproperlyConfigured as exc:
        raise Skip("the storage cannot be built; see r2.storages.options") from exc
    if not is_r2_endpoint(endpoint):
        return ok("Not an R2 endpoint: the store keeps keys byte for byte, no names collapse.")
    require_database(ctx)
    try:
        target = ImageTarget.resolve()
    except TargetError as exc:
        raise Skip(f"{exc}; see r2.schema.image_model") from exc
    keys = unicode_keys(target)
    collapsing = collapsing_groups(keys)
    not_nfc = sum(1 for key in keys if not unicodedata.is_normalized("NFC", key))
    if not collapsing:
        return ok(
            "No two file names collapse into one key under NFC"
            + (f" ({not_nfc} name(s) are not NFC; R2 stores them as NFC)." if not_nfc else "."),
            not_nfc=not_nfc,
        )
    shown = []
    for group in collapsing[:SHOWN_PAIRS]:
        forms = [f"row {pks[0]} {key!r} ({normal_form(key)})" for key, pks in group]
        shown.append(" and ".join(forms))
    group = collapsing[0]
    first_key, first_pks = next(
        ((k, p) for k, p in group if not unicodedata.is_normalized("NFC", k)), group[-1]
    )
    name = (
        target.manager.filter(pk=first_pks[0]).values_list(target.image_field, flat=True).first()
        or first_key
    )
    stem, dot, extension = name.rpartition(".")
    renamed = unicodedata.normalize("NFC", f"{stem}-2.{extension}" if dot else f"{name}-2")
    return warn(
        f"{len(collapsing)} group(s) of file names differ only in Unicode normalization "
        f"({'; '.join(shown)}): R2 stores keys in NFC, so each group is one object, and the "
        "backfill can upload only one of them (the others are reported as conflicts).",
        f"Rename one file of each group on disk and in its row, e.g. {target.label} row "
        f"{first_pks[0]}: move the file to {renamed!r} and set its "
        f"{target.image_field} to the same name; then run the backfill.",
        groups=[[key for key, _ in group] for group in collapsing],
    )
