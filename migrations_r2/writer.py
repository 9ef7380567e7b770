"""Writing verified results to their rows: the R2 fields the record model
keeps (any subset of the six) and, under a KEY_TEMPLATE, the file field's
name, all at once, in one UPDATE statement per batch, from the main thread.

Values are checked against the columns first (a ``public_url`` longer than
its varchar, a size beyond the integer column) so that one bad row is
reported instead of failing its whole batch; should the database still
refuse a batch, each of its rows is retried alone so the others land.
"""

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections, transaction

from r2_toolkit.core.conf import R2_FIELDS
from r2_toolkit.core.target import ImageTarget

NAME = "name"  # the file field's name, under a KEY_TEMPLATE
# {reference name: (max characters or None, max integer or None)}
Limits = dict[str, tuple[int | None, int | None]]
# (the fields set, [(pk, [their values]), …]) as the database takes them
Prepared = tuple[list[Any], list[tuple[Any, list[Any]]]]


@dataclass(frozen=True)
class Values:
    """The six R2 fields of one row, under their reference names, and the
    file field's new name (None: the name stays)."""

    storage_key: str
    public_url: str | None
    mime_type: str
    width: int | None
    height: int | None
    size_bytes: int
    name: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in R2_FIELDS}


Results = Mapping[object, Values]  # {pk: Values}


def model_field(target: ImageTarget, name: str) -> Any:
    """The model field that keeps the reference ``name`` (or the file name)."""
    return target.file_field if name == NAME else target.field(name)


def column_limits(target: ImageTarget) -> Limits:
    """{reference name: (max characters or None, max integer or None)} of
    the R2 fields the model keeps, and of its file field (``NAME``)."""
    ops = connections[target.db].ops
    limits: Limits = {}
    for name in [*target.fields, NAME]:
        field = model_field(target, name)
        try:
            high = ops.integer_field_range(field.get_internal_type())[1]
        except KeyError:
            high = None
        limits[name] = (field.max_length, high)
    return limits


def problem(name: str, value: object, limits: Limits, target: ImageTarget) -> str | None:
    """Why ``value`` does not fit the column of ``name``, or None (also
    when the model does not keep ``name``: it is not stored)."""
    if name not in limits:
        return None
    max_length, max_int = limits[name]
    column = target.image_field if name == NAME else target.fields[name]
    if max_length is not None and isinstance(value, str) and len(value) > max_length:
        return (
            f"{column} would be {len(value)} characters but the column holds {max_length}; "
            f"widen {target.model._meta.label}.{column} (max_length) and re-run"
        )
    if max_int is not None and isinstance(value, int) and value > max_int:
        return f"{column} {value} exceeds the column's maximum {max_int}"
    return None


def first_problem(values: Mapping[str, object], limits: Limits, target: ImageTarget) -> str | None:
    """The first reason the given {reference name: value} cannot be written."""
    for name, value in values.items():
        reason = problem(name, value, limits, target)
        if reason:
            return reason
    return None


def update_sql(target: ImageTarget, results: Results) -> tuple[str, list[Any]]:
    """One UPDATE setting the six fields of every row in ``results`` by
    primary key, without building an ORM expression per value (which cost
    more CPU than the uploads it follows): joined to a VALUES list where the
    database can (SQLite 3.33+, PostgreSQL), else as ``bulk_update`` writes
    it, one CASE per column, which the database walks for every row."""
    connection = connections[target.db]
    if joins_values(connection):
        return update_from_values_sql(target, results, connection)
    return update_case_sql(target, results, connection)


def joins_values(connection: Any) -> bool:
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 33)


def written(target: ImageTarget, results: Results) -> list[str]:
    """The reference names an UPDATE of ``results`` sets: the R2 fields the
    model keeps, and the file name where a KEY_TEMPLATE renamed it."""
    names = [name for name in R2_FIELDS if name in target.fields]
    if any(values.name is not None for values in results.values()):
        names.append(NAME)
    return names


def prepared(target: ImageTarget, results: Results, connection: Any) -> Prepared:
    """(the fields set, [(pk, [their values]), …]), values as the
    database takes them: what both forms of the UPDATE send."""
    names = written(target, results)
    fields = [model_field(target, name) for name in names]
    pk_field = target.model._meta.pk
    rows = [
        (
            pk_field.get_db_prep_value(pk, connection),
            [
                field.get_db_prep_save(getattr(values, name), connection)
                for name, field in zip(names, fields, strict=True)
            ],
        )
        for pk, values in results.items()
    ]
    return fields, rows


def placeholder(field: Any, connection: Any, cast: bool) -> str:
    return f"CAST(%s AS {field.cast_db_type(connection)})" if cast else "%s"


def update_from_values_sql(
    target: ImageTarget, results: Results, connection: Any
) -> tuple[str, list[Any]]:
    """``UPDATE t SET f = v.columnN … FROM (VALUES (pk, …), …) AS v WHERE
    t.pk = v.column1``: a primary-key lookup per row, where a CASE per column
    costs the database a comparison per row and per WHEN (0.1 ms of CPU per
    row at 200 rows a batch)."""
    meta = target.model._meta
    quote = connection.ops.quote_name
    fields, rows = prepared(target, results, connection)
    # PostgreSQL types a VALUES list from its parameters, which arrive untyped.
    cast = connection.vendor == "postgresql"
    row_sql = f"({', '.join(placeholder(field, connection, cast) for field in [meta.pk, *fields])})"
    table = quote(meta.db_table)
    assignments = ", ".join(
        f"{quote(field.column)} = v.column{index}" for index, field in enumerate(fields, start=2)
    )
    sql = (
        f"UPDATE {table} SET {assignments} "
        f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v "
        f"WHERE {table}.{quote(meta.pk.column)} = v.column1"
    )
    return sql, [param for pk, values in rows for param in (pk, *values)]


def update_case_sql(
    target: ImageTarget, results: Results, connection: Any
) -> tuple[str, list[Any]]:
    meta = target.model._meta
    quote = connection.ops.quote_name
    fields, rows = prepared(target, results, connection)
    cast = connection.features.requires_casted_case_in_updates
    assignments: list[str] = []
    params: list[Any] = []
    for column, field in enumerate(fields):
        value_sql = placeholder(field, connection, cast)
        whens = " ".join([f"WHEN %s THEN {value_sql}"] * len(rows))
        for pk, values in rows:
            params += [pk, values[column]]
        assignments.append(f"{quote(field.column)} = CASE {quote(meta.pk.column)} {whens} END")
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE {quote(meta.pk.column)} IN ({', '.join(['%s'] * len(rows))})"
    )
    return sql, params + [pk for pk, _ in rows]


def savepoint(db: str) -> AbstractContextManager[object]:
    """Around one UPDATE: nothing in autocommit mode (the statement is atomic
    on its own); inside a caller's transaction a savepoint, so that a refused
    statement does not abort that transaction."""
    return transaction.atomic(using=db) if connections[db].in_atomic_block else nullcontext()


def refusal(exc: BaseException) -> str:
    """The report's reason for a row the database refused."""
    return f"the database refused the row: {str(exc).strip().splitlines()[0]}"


def execute_update(target: ImageTarget, results: Results) -> None:
    """One UPDATE, in a savepoint where a transaction is open, so that a
    refused batch can be retried row by row."""
    with savepoint(target.db), connections[target.db].cursor() as cursor:
        cursor.execute(*update_sql(target, results))


def write(target: ImageTarget, results: Results) -> dict[object, str]:
    """Update the rows of ``results`` ({pk: Values}); returns {pk: reason} for
    rows the database refused (their rows are left untouched)."""
    if not results:
        return {}
    try:
        execute_update(target, results)
        return {}
    except DatabaseError:
        pass
    refused: dict[object, str] = {}
    for pk, values in results.items():
        try:
            execute_update(target, {pk: values})
        except DatabaseError as exc:
            refused[pk] = refusal(exc)
    return refused
