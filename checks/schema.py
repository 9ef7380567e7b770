"""Checks of the 'schema' group, first part: the database answers and every
migration is applied; and what the other schema checks share: the table as
the database itself reports it (introspection, because a model can declare a
column its migration never created), the migrations that create a table or
column, and whether an app is the site's own to write migrations for.

The target file fields are :mod:`checks.schema_fields`'s, the optional record
model's columns :mod:`checks.schema_record`'s.
"""

import site
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection

from r2_toolkit.checks.commands import makemigrations, migrate
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok
from r2_toolkit.core import compat
from r2_toolkit.core.errors import driver_message

TEXT_TYPES = {"CharField", "TextField"}


@dataclass
class Column:
    name: str
    type: str  # as the database names it
    django_type: str | None  # the field class Django maps it to (None: no match)
    null: bool
    max_length: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "null": self.null,
            "max_length": self.max_length,
        }


def database_label() -> str:
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


def ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def require_database(ctx: CheckContext) -> None:
    """Skip the calling check unless the database answered (asked once per run)."""
    try:
        ctx.shared("schema.database", ping_database)
    except Exception as exc:
        raise Skip("the database does not answer; see r2.schema.database") from exc


def migration_plan() -> list[Any]:
    """Unapplied migrations, in the order `migrate` would apply them."""
    # Imported here, not at start-up: every manage.py command imports this module.
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    return [migration for migration, backwards in executor.migration_plan(targets) if not backwards]


def pending_migrations(app_label: str | None = None) -> list[str]:
    """'app.migration' names not applied yet (of ``app_label`` only, if given)."""
    return [
        f"{m.app_label}.{m.name}"
        for m in migration_plan()
        if app_label is None or m.app_label == app_label
    ]


def migrations_creating(model: Any, field_names: Iterable[str] | None = None) -> list[str]:
    """'app.migration' names that create ``model``'s table, or (with
    ``field_names``) any of those fields, in migration order."""
    from django.db.migrations.operations import AddField, CreateModel

    model_name = model._meta.model_name
    found: list[str] = []
    for (app_label, name), migration in sorted(compat.disk_migrations().items()):
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


def migration_before(label: str) -> str:
    """The migration of the same app that ``label`` ('app.name') follows, as
    ``migrate APP NAME`` takes it ('zero' for the app's first)."""
    app_label, name = label.split(".", 1)
    parents = sorted(p[1] for p in compat.migration_parents(app_label, name) if p[0] == app_label)
    return parents[-1] if parents else "zero"


# --- introspection ---------------------------------------------------------


def db_type_name(info: Any) -> str:
    """The column's type as the database names it ('varchar(200)', 'int4')."""
    code = info.type_code
    if isinstance(code, str):  # SQLite reports the declared type itself
        return code
    name = compat.database_type_name(connection, code) or str(code)
    size = info.display_size or info.internal_size
    return f"{name}({size})" if name in ("varchar", "bpchar") and size else name


def to_column(info: Any) -> Column:
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


def table_columns(table: str) -> dict[str, Column] | None:
    """{column name: Column} of ``table`` as the database reports it, or None
    when there is no such table; raises DatabaseError when the database fails."""
    with connection.cursor() as cursor:
        # Look before describing: on PostgreSQL a failed query aborts the
        # surrounding transaction.
        if table not in connection.introspection.table_names(cursor):
            return None
        description = connection.introspection.get_table_description(cursor, table)
    return {info.name: to_column(info) for info in description}


# --- whose migrations are they ---------------------------------------------


def foreign_roots() -> set[Path]:
    """Where installed packages and the standard library live."""
    paths = sysconfig.get_paths()
    roots = [paths.get("purelib"), paths.get("platlib"), paths.get("stdlib")]
    roots += list(getattr(site, "getsitepackages", list)())
    roots.append(getattr(site, "getusersitepackages", lambda: None)())
    return {Path(root).resolve() for root in roots if root}


def site_owns(app_label: str) -> bool:
    """Whether ``app_label``'s code is the site's own, so its migrations are
    the site's to write: not an installed package (site-packages), whose
    migrations its next release would overwrite or contradict."""
    path = Path(apps.get_app_config(app_label).path).resolve()
    if {"site-packages", "dist-packages"} & set(path.parts):
        return False
    return not any(path.is_relative_to(root) for root in foreign_roots())


def model_change_fix(model: Any, change: str | None, instead: str, then: str = "") -> str:
    """How to make ``change`` (a clause: 'Set max_length=600 on …'; None: the
    model is already right) to ``model``, as one sentence: in the site's own
    app, edit it and make the migration (``then`` is appended); in an
    installed package, never write migrations into it: ``instead`` (a
    sentence) says what to configure."""
    app = model._meta.app_label
    if site_owns(app):
        start = f"{change}, then " if change else "Run "
        return f"{start}`{makemigrations(app)}` and `{migrate(app)}`{then}."
    return (
        f"{model._meta.label} belongs to the installed app {app!r}, not to this project: "
        f"do not write migrations into it; {instead}"
    )


# --- the checks ------------------------------------------------------------


@check("r2.schema.database", kind="db", per_storage=False)
def database(ctx: CheckContext) -> Outcome:
    """The database answers.

    Catches: A database that is down, unreachable or refuses the configured credentials.

    Fix: Check the DATABASES setting (host, port, name, user, password) and that the database
    server is running and reachable from this host.
    """
    try:
        ctx.shared("schema.database", ping_database)
    except Exception as exc:
        return fail(
            f"The {database_label()} does not answer: {driver_message(exc)}",
            "Check the DATABASES setting (host, port, database name, user, password) and that "
            "the database server is running and reachable from this host.",
            database=database_label(),
        )
    return ok(f"The {database_label()} answers.", database=database_label())


@check("r2.schema.migrations", kind="db", per_storage=False)
def migrations(ctx: CheckContext) -> Outcome:
    """Every migration is applied.

    Catches: Unapplied migrations, e.g. the one adding the R2 columns, deployed code running
    against an old schema.

    Fix: Run `python manage.py migrate` as a step of the deploy, before the new code serves.
    """
    require_database(ctx)
    pending = pending_migrations()
    if pending:
        return fail(
            f"{len(pending)} migration(s) are not applied: {', '.join(pending)}",
            f"Run `{migrate()}` before the new code serves requests.",
            pending=pending,
        )
    return ok("Every migration is applied.", pending=[])
