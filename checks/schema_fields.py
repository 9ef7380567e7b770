"""Checks of the 'schema' group for the target file fields: every
``FileField``/``ImageField`` the backfill, the audit and the gate work on
(``R2_TOOLKIT["FILE_FIELDS"]``, else every file field on the storage; see
:func:`r2_toolkit.core.files.file_targets`), on any site: its table
and column exist with its migrations applied, its names fit its column and
their keys (the storage's own: location + name) fit the store, and no two of
them collapse into one key under R2's Unicode normalization.
"""

import unicodedata
from collections.abc import Mapping
from typing import Any, TypedDict, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.db.models.functions import Length

from r2_toolkit.checks import schema
from r2_toolkit.checks.commands import migrate
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.core import files
from r2_toolkit.core.files import FileTarget
from r2_toolkit.core.keys import MAX_KEY_BYTES, join_location
from r2_toolkit.core.storage import is_r2_endpoint
from r2_toolkit.core.target import (
    TargetError,
    r2_fields,
    record_model,
    templated_name,
    username_path,
    uses_template,
)

SEE_FILE_FIELDS = "see r2.schema.file_fields"
# UTF-8 takes at most 4 bytes a character: a name this much shorter than the
# key limit cannot reach it, so only longer names are measured one by one.
MAX_UTF8_BYTES = 4

T = TypeVar("T")
# object key -> the (target, row pk) of every row stored under it
Keys = dict[str, list[tuple[FileTarget, Any]]]


class NameLengths(TypedDict):
    limit: int | None
    too_long: int
    longest_key: int
    key_too_long: int
    refused: int
    example: str | None  # a key over the limit: set whenever key_too_long is


def targets_or_skip(ctx: CheckContext) -> list[FileTarget]:
    """The target fields of the context's storage; Skip when they cannot be
    resolved (r2.schema.file_fields says why)."""
    if ctx.alias is None:
        raise Skip("no S3 storage is configured in STORAGES")
    try:
        return files.file_targets(ctx.alias)
    except TargetError as exc:
        raise Skip(f"{exc}; {SEE_FILE_FIELDS}") from exc


def field_report(target: FileTarget) -> dict[str, object]:
    """One target field as the database holds it, for ``/debug/r2/schema``."""
    columns = schema.table_columns(target.model._meta.db_table)
    column = (columns or {}).get(target.field.column)
    return {
        "field": target.label,
        "table": target.model._meta.db_table,
        "column": target.field.column,
        "exists": column is not None,
        "max_length": column.max_length if column else None,
    }


def target_problems(target: FileTarget, pending: list[str]) -> tuple[list[str], str | None]:
    """Sentences for what is wrong with one target's table, and the apps to migrate."""
    table, app = target.model._meta.db_table, target.model._meta.app_label
    waiting = [m for m in pending if m.startswith(f"{app}.")]
    columns = schema.table_columns(table)
    problems: list[str] = []
    if columns is None:
        creating = [m for m in schema.migrations_creating(target.model) if m in waiting]
        problems.append(
            f"{target.label}: the table {table} does not exist"
            + (f" ({creating[0]} creates it and is not applied)" if creating else "")
        )
    elif target.field.column not in columns:
        problems.append(f"{target.label}: the table {table} has no column {target.field.column}")
    if waiting:
        problems.append(f"{target.label}: {len(waiting)} migration(s) of {app} are not applied")
    return problems, (app if waiting else None)


@check("r2.schema.file_fields", kind="db")
def file_fields(ctx: CheckContext) -> Outcome:
    """Every target file field's table and column exist, its migrations applied.

    Catches: An R2_TOOLKIT["FILE_FIELDS"] entry that names no file field, or a file field whose
    table or column is not in the database yet, or whose app has unapplied migrations: the
    backfill, the audit and the site itself would fail on it.

    Fix: Name file fields as "app_label.Model.field" (`python manage.py r2_backfill
    --list-fields` lists them) and run `python manage.py migrate`.
    """
    schema.require_database(ctx)
    if ctx.alias is None:
        raise Skip("no S3 storage is configured in STORAGES")
    try:
        targets = files.file_targets(ctx.alias)
    except TargetError as exc:
        return fail(exc.message, exc.hint)
    labels = [t.label for t in targets]
    if not targets:
        return ok(
            f"No file field stores its files in STORAGES[{ctx.alias!r}]: there is nothing to "
            "back fill, audit or sample.",
            fields=[],
        )
    pending = schema.pending_migrations()
    problems, apps = [], []
    for target in targets:
        found, app = target_problems(target, pending)
        problems += found
        if app and app not in apps:
            apps.append(app)
    if problems:
        commands = [f"`{migrate(app)}`" for app in apps] or [f"`{migrate()}`"]
        return fail(
            f"{len(problems)} problem(s) with the file fields: {'; '.join(problems)}",
            f"Run {' and '.join(commands)} before the new code serves requests; a table that "
            "no migration creates means another database than the site's (the DATABASES setting).",
            fields=labels,
            problems=problems,
        )
    return ok(
        f"The {len(targets)} file field(s) on STORAGES[{ctx.alias!r}] have their tables and "
        f"columns, migrations applied: {', '.join(labels)}.",
        fields=labels,
    )


# --- lengths ---------------------------------------------------------------


def column_limit(target: FileTarget) -> int | None:
    """The longest name the field's column holds: as the database reports it,
    else as the model declares it (None: unbounded)."""
    columns = schema.table_columns(target.model._meta.db_table) or {}
    column = columns.get(target.field.column)
    if column is not None and column.max_length:
        return column.max_length
    return target.field.max_length


def name_lengths(target: FileTarget) -> NameLengths:
    """{"limit", "too_long" (rows whose name is longer than the column),
    "longest_key" (bytes), "key_too_long" (rows whose key is over the store's
    limit), "refused" (rows whose name the storage refuses), "example"}; each
    count exact, only the names that can be at fault measured one by one."""
    limit = column_limit(target)
    rows = target.named().annotate(r2_name_length=Length(target.column))
    too_long = rows.filter(r2_name_length__gt=limit).count() if limit else 0
    prefix = len(join_location(target.storage.location, "").encode("utf-8"))
    can_be_over = rows.filter(r2_name_length__gt=(MAX_KEY_BYTES - prefix) // MAX_UTF8_BYTES)
    over, example = 0, None
    for name in can_be_over.values_list(target.column, flat=True).iterator(chunk_size=2000):
        key = target.key(name)
        if key is not None and len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            over, example = over + 1, example or key
    # Only a '..' segment leads a name out of the storage's location.
    can_escape = rows.filter(**{f"{target.column}__contains": ".."})
    refused = sum(
        1
        for name in can_escape.values_list(target.column, flat=True).iterator(chunk_size=2000)
        if target.key(name) is None
    )
    longest = rows.order_by("-r2_name_length").values_list(target.column, flat=True).first()
    longest_key = target.key(longest) if longest else None
    return {
        "limit": limit,
        "too_long": too_long,
        "longest_key": len(longest_key.encode("utf-8", "surrogatepass")) if longest_key else 0,
        "key_too_long": over,
        "refused": refused,
        "example": example,
    }


@check("r2.schema.file_name_lengths", kind="db")
def file_name_lengths(ctx: CheckContext) -> Outcome:
    """Every target field's names fit its column, and their keys fit the store.

    Catches: Object keys (the storage's location joined to a row's name) longer than the 1,024
    bytes S3 and R2 accept: those files can never be uploaded; names longer than their column's
    max_length (SQLite does not enforce it), which a form refuses to save again and a stricter
    database refuses to hold.

    Fix: Rename the files whose keys are too long (shorter names, or a shorter AWS_LOCATION);
    raise the field's max_length where the names are longer than its column.
    """
    schema.require_database(ctx)
    targets = targets_or_skip(ctx)
    if not targets:
        raise Skip(f"no file field stores its files in STORAGES[{ctx.alias!r}]")
    measured = {t.label: name_lengths(t) for t in targets}
    details = {
        label: {k: v for k, v in m.items() if k != "example"} for label, m in measured.items()
    }
    over = {label: m for label, m in measured.items() if m["key_too_long"]}
    if over:
        shown = "; ".join(
            f"{label}: {m['key_too_long']} row(s), e.g. {cast(str, m['example'])[:80]}…"
            for label, m in over.items()
        )
        return fail(
            f"Keys longer than the {MAX_KEY_BYTES} bytes the store accepts: {shown}. Those "
            "files cannot be uploaded.",
            "Rename those files (and their rows) to shorter names, or shorten AWS_LOCATION "
            "(the location prefix is part of every key); `python manage.py r2_audit` lists "
            "them once the backfill has tried.",
            fields=details,
        )
    problems, hints = [], []
    for target in targets:
        m = measured[target.label]
        if m["too_long"]:
            problems.append(
                f"{m['too_long']} row(s) of {target.label} hold names longer than its column "
                f"({m['limit']} characters)"
            )
            hints.append(
                schema.model_change_fix(
                    target.model,
                    f"Raise max_length of {target.label} above the longest name",
                    "rename the files to names that fit.",
                )
            )
        if m["refused"]:
            problems.append(
                f"{m['refused']} row(s) of {target.label} hold names the storage refuses "
                "(they lead outside its location): they have no object key"
            )
            hints.append("Correct those names (`python manage.py r2_audit` lists the rows).")
    if problems:
        return warn("; ".join(problems) + ".", " ".join(dict.fromkeys(hints)), fields=details)
    longest = max(m["longest_key"] for m in measured.values())
    return ok(
        f"The names of {len(targets)} file field(s) fit their columns, and their keys fit the "
        f"store's {MAX_KEY_BYTES} bytes (the longest name's key: {longest} bytes).",
        fields=details,
    )


# --- Unicode normalization -------------------------------------------------------
NON_ASCII = r"[^\x01-\x7f]"  # only such names can change under NFC (a regex every backend runs)
SHOWN_PAIRS = 3


def record_keys(targets: list[FileTarget]) -> tuple[Keys, set[tuple[str, Any]]]:
    """Keys the record model adds to the file fields' own: its migrated rows'
    storage_key, and with KEY_TEMPLATE its legacy rows' future keys (which
    replace their names' keys)."""
    try:
        model = record_model()
        fields = r2_fields(model, ()) if model is not None else {}
    except TargetError:
        return {}, set()
    target = next((t for t in targets if model is not None and t.model is model), None)
    if target is None or "storage_key" not in fields:
        return {}, set()
    key_column = fields["storage_key"].name
    keys: Keys = {}
    migrated = target.manager.filter(**{f"{key_column}__isnull": False})
    migrated = migrated.filter(**{f"{key_column}__regex": NON_ASCII})
    for pk, key in migrated.values_list("pk", key_column):
        keys.setdefault(key, []).append((target, pk))
    replaced: set[tuple[str, Any]] = set()
    if uses_template():
        legacy = target.named().filter(**{f"{key_column}__isnull": True})
        legacy = legacy.filter(**{f"{target.column}__regex": NON_ASCII})
        location = target.storage.location
        for pk, name, username in legacy.values_list("pk", target.column, username_path(model)):
            key = join_location(location, templated_name(name, username, location))
            keys.setdefault(key, []).append((target, pk))
            replaced.add((target.label, pk))
    return keys, replaced


def unicode_keys(targets: list[FileTarget]) -> Keys:
    """{object key: [(target, row pk), ...]} for every row with a non-ASCII name."""
    keys, replaced = record_keys(targets)
    for target in targets:
        rows = target.named().filter(**{f"{target.column}__regex": NON_ASCII})
        for pk, name in rows.values_list("pk", target.column).iterator(chunk_size=2000):
            key = target.key(name)
            if key is not None and (target.label, pk) not in replaced:
                keys.setdefault(key, []).append((target, pk))
    return keys


def normal_form(text: str) -> str:
    return next(
        (f for f in ("NFC", "NFD") if unicodedata.is_normalized(f, text)), "neither NFC nor NFD"
    )


def collapsing_groups(keys: Mapping[str, T]) -> list[list[tuple[str, T]]]:
    """The groups of distinct keys in ``keys`` (key -> anything) that R2 stores as one
    object because they are equal in NFC, each group in ``keys``' order."""
    by_nfc: dict[str, list[tuple[str, T]]] = {}
    for key, value in keys.items():
        by_nfc.setdefault(unicodedata.normalize("NFC", key), []).append((key, value))
    return [group for group in by_nfc.values() if len(group) > 1]


@check("r2.schema.unicode_names", kind="db")
def unicode_names(ctx: CheckContext) -> Outcome:
    """R2: no two file names collapse into one key under Unicode normalization.

    Catches: File names in NFD (as a Mac's disk writes them) beside the same names in NFC: R2
    normalizes keys to NFC, so the two become one object and one file replaces, or blocks, the
    other.

    Fix: Rename one file of each pair the message names, on disk and in its row, so no two names
    are equal once normalized to NFC; then run the backfill.

    Source: Cloudflare R2 docs, Unicode interoperability ('we have chosen to NFC-normalize key
    names before storing')
    """
    try:
        endpoint = ctx.storage().endpoint_url
    except ImproperlyConfigured as exc:
        raise Skip("the storage cannot be built; see r2.storages.options") from exc
    if not is_r2_endpoint(endpoint):
        return ok("Not an R2 endpoint: the store keeps keys byte for byte, no names collapse.")
    schema.require_database(ctx)
    targets = targets_or_skip(ctx)
    keys = unicode_keys(targets)
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
        forms = [
            f"{rows[0][0].label} row {rows[0][1]} {key!r} ({normal_form(key)})"
            for key, rows in group
        ]
        shown.append(" and ".join(forms))
    group = collapsing[0]
    first_key, first_rows = next(
        ((k, r) for k, r in group if not unicodedata.is_normalized("NFC", k)), group[-1]
    )
    target, pk = first_rows[0]
    name = target.manager.filter(pk=pk).values_list(target.column, flat=True).first() or first_key
    stem, dot, extension = name.rpartition(".")
    renamed = unicodedata.normalize("NFC", f"{stem}-2.{extension}" if dot else f"{name}-2")
    return warn(
        f"{len(collapsing)} group(s) of file names differ only in Unicode normalization "
        f"({'; '.join(shown)}): R2 stores keys in NFC, so each group is one object, and the "
        "backfill can upload only one of them (the others are reported as conflicts).",
        f"Rename one file of each group on disk and in its row, e.g. {target.label} row "
        f"{pk}: move the file to {renamed!r} and set its {target.field.name} to the same name; "
        "then run the backfill.",
        groups=[[key for key, _ in group] for group in collapsing],
    )
