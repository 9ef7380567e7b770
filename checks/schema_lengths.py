"""Checks of the 'schema' group for the optional record model's public_url
and storage_key columns: long enough for the URLs and keys this
configuration writes into them (every row measured under the name the
backfill gives it, so the count of rows that would not fit is exact)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import Q

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, skip, warn
from r2_toolkit.checks.schema import model_change_fix
from r2_toolkit.checks.schema_record import FOREIGN_INSTEAD, Schema, schema_or_outcome
from r2_toolkit.core import compat, files
from r2_toolkit.core.errors import describe
from r2_toolkit.core.redact import scrub
from r2_toolkit.core.target import (
    TargetError,
    image_field,
    templated_name,
    username_path,
    uses_template,
)

# --- lengths: the keys and URLs this configuration produces ---------------
# Names of only these characters, in segments that do not start with a dot,
# come out of the storage's cleaning and URL quoting unchanged, so their key
# and URL are a fixed prefix plus the name: measured without building a URL.
# What a length is measured on: the key or the URL the storage gives a name.
Measure = Callable[[Any, str], str | None]
PLAIN_NAME = re.compile(r"[\w~-][\w.~-]*(/[\w~-][\w.~-]*)*", re.ASCII)


def storage_for_lengths(ctx: CheckContext) -> Any:
    try:
        return ctx.storage()
    except Skip:
        raise
    except Exception as exc:
        raise Skip(f"the storage could not be built ({describe(exc)}); see r2.storages") from exc


def measurer(storage: Any, measure: Measure) -> Callable[[str], int | None]:
    """name -> len(measure(storage, name)), or None when the storage refuses
    the name; plain names without asking the storage each time."""
    overhead = len(cast(str, measure(storage, "a"))) - 1  # the storage takes "a"

    def length(name: str) -> int | None:
        if PLAIN_NAME.fullmatch(name):
            return overhead + len(name)
        if files.object_key(storage, name) is None:
            return None
        return len(cast(str, measure(storage, name)))  # a name it takes: one key, one URL

    return length


@dataclass
class LengthNeed:
    longest_now: int  # for the longest name in the table (0: no rows)
    longest_possible: int  # for a name as long as the file field allows
    example: str | None
    rows_too_long: int


def key_name(storage: Any, name: str, username: str | None) -> str:
    """The name (relative to the location) a record row's file is stored
    under: its own, or with KEY_TEMPLATE the seed's users/<username>/images/
    layout (the name the backfill renames the row to)."""
    return templated_name(name, username, storage.location) if uses_template() else name


def length_need(schema: Schema, storage: Any, measure: Measure, limit: int | None) -> LengthNeed:
    """How long a column must be for ``measure`` over the table's rows: every
    row's name measured under the name the backfill gives it, so the count of
    rows that would not fit is exact."""
    file_field = image_field(schema.model)
    columns = [file_field.name] + ([username_path(schema.model)] if uses_template() else [])
    named = schema.model._base_manager.exclude(
        Q(**{f"{file_field.name}__isnull": True}) | Q(**{file_field.name: ""})
    )
    length = measurer(storage, measure)
    longest, example, too_long = 0, None, 0
    for row in named.values_list(*columns).iterator(chunk_size=2000):
        name = key_name(storage, row[0], row[1] if len(row) > 1 else None)
        needed = length(name)
        if needed is None:
            continue  # the storage refuses the name; r2.schema.file_name_lengths names it
        if needed > longest:
            longest, example = needed, name
        if limit and needed > limit:
            too_long += 1
    possible = length("a" * (file_field.max_length or 100)) or 0
    return LengthNeed(longest, possible, example, too_long)


def alter_field_fix(model: Any, field_: Any, max_length: int) -> str:
    """The migration operation that widens ``field_``, as makemigrations writes it."""
    name, path, args, kwargs = field_.deconstruct()
    widened = type(field_)(*args, **{**kwargs, "max_length": max_length})
    from django.db.migrations.operations import AlterField

    operation = AlterField(model_name=model._meta.model_name, name=field_.name, field=widened)
    return compat.operation_source(operation)


def length_check(ctx: CheckContext, reference_name: str, measure: Measure, what: str) -> Outcome:
    schema = schema_or_outcome(ctx)
    column = schema.column(reference_name)
    if reference_name not in schema.fields:
        return skip(f"{schema.model._meta.label} keeps no {reference_name} (FIELD_MAP).")
    if column is None:
        raise Skip(
            f"the column {schema.fields[reference_name].column} is missing; see r2.schema.columns"
        )
    try:
        image_field(schema.model)
        if uses_template():
            username_path(schema.model)
    except TargetError as exc:
        raise Skip(f"{exc}; see r2.schema.image_model") from exc
    limit = column.max_length
    storage = storage_for_lengths(ctx)
    need = length_need(schema, storage, measure, limit)
    details = {
        "column": column.name,
        "max_length": limit,
        "longest_now": need.longest_now,
        "longest_possible": need.longest_possible,
        "rows_too_long": need.rows_too_long,
    }
    if limit is None:
        return ok(f"{column.name} has no length limit ({column.type}).", **details)
    field_ = schema.fields[reference_name]
    label = schema.model._meta.label
    wanted = -(-max(need.longest_possible, need.longest_now) // 100) * 100  # next hundred
    hint = model_change_fix(
        schema.model,
        f"Set max_length={wanted} on {label}.{field_.name}",
        FOREIGN_INSTEAD,
        then=f"; the migration is: {alter_field_fix(schema.model, field_, wanted)}",
    )
    if need.rows_too_long:
        return fail(
            f"{column.name} holds {limit} characters, but the {what} of existing rows "
            f"need up to {need.longest_now} ({need.rows_too_long} row(s) would not "
            f"fit, e.g. {scrub(measure(storage, cast(str, need.example)))})",
            hint,
            **details,
        )
    if need.longest_possible > limit:
        return warn(
            f"{column.name} holds {limit} characters, but the {what} of a file name as "
            f"long as {label}.{image_field(schema.model).name} allows "
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


@check("r2.schema.public_url_length", kind="db", per_storage=False)
def public_url_length(ctx: CheckContext) -> Outcome:
    """public_url is long enough for this configuration's URLs.

    Catches: A record model's public_url column (the reference schema's varchar(200)) too short
    for the URLs the storage builds from long file names and the custom domain.

    Fix: Raise max_length of the public_url field to the length the check names (an AlterField
    migration), then migrate.
    """
    return length_check(ctx, "public_url", files.public_url, "public URLs")


@check("r2.schema.storage_key_length", kind="db", per_storage=False)
def storage_key_length(ctx: CheckContext) -> Outcome:
    """storage_key is long enough for this configuration's object keys.

    Catches: A record model's storage_key column too short for the object keys (location prefix
    plus file name) the storage writes.

    Fix: Raise max_length of the storage_key field to the length the check names (an AlterField
    migration), then migrate.
    """
    return length_check(ctx, "storage_key", files.object_key, "object keys")
