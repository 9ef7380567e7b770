"""The site's file fields: what the backfill moves, the audit reconciles and
the gate checks, on any Django site.

A :class:`FileField` target is one concrete ``FileField`` (``ImageField`` and
every subclass: Wagtail's image, rendition and document files included) of an
installed model, with the storage it writes to. By default the targets are
every such field whose storage is the target storage (the ``STORAGES`` alias,
``default`` unless asked); ``R2_TOOLKIT["FILE_FIELDS"]`` or ``--field``
narrow them to a list of ``"app_label.Model.field"``.

The object key of a stored name is what the field's storage itself resolves
(:func:`object_key`): django-storages cleans and normalises a name
(``a//b``, ``./a``, ``a\\b``, ``/a`` and ``x/../a`` all serve an object) and
joins it to its location. Every part of the toolkit uses that one function.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import storages
from django.db.models import FileField, Q

from r2_toolkit.core import compat
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.storage import StorageAliasError, chosen_s3_alias, is_s3_storage
from r2_toolkit.core.target import ModelRows, TargetError, setting

FIELD_HINT = (
    'Name file fields as "app_label.Model.field" (R2_TOOLKIT["FILE_FIELDS"] or --field); '
    "`manage.py r2_backfill --list-fields` lists the site's file fields."
)
S3_ALIAS_HINT = "Pass --storage with an alias whose BACKEND is storages.backends.s3.S3Storage."


def object_key(storage: Any, name: object) -> str | None:
    """The object key ``storage`` reads and writes ``name`` under, or None
    when the storage refuses the name (it escapes the location) or there is
    no name. The storage's own rule, never a copy of it."""
    if not name:
        return None
    return compat.storage_key(storage, str(name))


def public_url(storage: Any, name: str) -> str:
    """The public URL of ``name`` the toolkit stores, measures and compares:
    the storage's own ``url()``, never with a query string (a signature
    expires; the settings checks flag signed URLs)."""
    url: str = storage.url(name)
    return url.split("?", 1)[0]


def open_storage(alias: str, **options: Any) -> Any:
    """A new instance of the storage ``STORAGES[alias]`` names, built from the
    settings as they are now (not the instance Django keeps), with
    ``options`` over its OPTIONS. KeyError when there is no such alias;
    whatever the backend raises when the settings cannot build it."""
    config = dict(settings.STORAGES[alias])
    if options:
        config["OPTIONS"] = {**(config.get("OPTIONS") or {}), **options}
    return storages.create_storage(config)


def identity(storage: Any) -> tuple[str, str] | None:
    """(endpoint, bucket) of an S3 storage, else None: two storages with the
    same identity write to one bucket, whatever their locations."""
    if not is_s3_storage(storage):
        return None
    return (storage.endpoint_url or "", storage.bucket_name)


@dataclass(frozen=True)
class FileTarget(ModelRows):
    """One file field of one model, and the storage its names live in."""

    model: Any  # a model class (Django ships no annotations)
    field: Any  # a FileField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def storage(self) -> Any:
        return self.field.storage

    @property
    def column(self) -> str:
        column: str = self.field.attname
        return column

    def named(self) -> Any:
        """Rows whose field holds a name (not NULL, not empty)."""
        return self.manager.exclude(Q(**{f"{self.column}__isnull": True}) | Q(**{self.column: ""}))

    def key(self, name: object) -> str | None:
        return object_key(self.storage, name)

    @property
    def dimension_fields(self) -> tuple[str | None, str | None]:
        """(width_field, height_field) an ImageField keeps, each a name or None."""
        return (
            getattr(self.field, "width_field", None) or None,
            getattr(self.field, "height_field", None) or None,
        )


def concrete_file_fields() -> Iterator[FileTarget]:
    """Every concrete FileField of every installed, non-proxy model."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue  # its concrete model is listed too
        for field in model._meta.concrete_fields:
            if isinstance(field, FileField):
                yield FileTarget(model, field)


def parse_label(label: object) -> FileTarget:
    """The FileTarget ``"app_label.Model.field"`` names; TargetError otherwise."""
    parts = str(label).split(".")
    if len(parts) != 3 or not all(parts):
        raise TargetError(f"{label!r} is not app_label.Model.field", FIELD_HINT)
    app_label, model_name, field_name = parts
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise TargetError(f"{label!r} names no installed model", FIELD_HINT) from None
    field = next((f for f in model._meta.concrete_fields if f.name == field_name), None)
    if not isinstance(field, FileField):
        known = [t.label for t in concrete_file_fields() if t.model is model]
        fields = ", ".join(known) or "none"
        raise TargetError(
            f"{label!r} is not a FileField of {model._meta.label} (its file fields: {fields})",
            FIELD_HINT,
        )
    return FileTarget(model, field)


def target_storage(alias: str = "default") -> Any:
    """The storage of the S3 alias ``alias``; TargetError with the fix when
    ``alias`` is no S3 alias or its settings cannot build the storage."""
    try:
        return storages[chosen_s3_alias(alias)]
    except StorageAliasError as exc:
        raise TargetError(str(exc).rstrip("."), S3_ALIAS_HINT) from None
    except Exception as exc:  # OPTIONS the backend refuses: a sentence, not a traceback
        raise TargetError(
            f"STORAGES[{alias!r}] cannot be opened: {describe(exc).rstrip('.')}",
            f"Fix the OPTIONS of STORAGES[{alias!r}].",
        ) from None


def file_targets(alias: str = "default", labels: Iterable[str] | None = None) -> list[FileTarget]:
    """The targets of a run on the storage ``alias``: ``labels`` (``--field``),
    else ``R2_TOOLKIT["FILE_FIELDS"]``, else every file field whose storage
    writes to the same bucket as ``alias``. Named fields on another storage
    are refused (their names are not this bucket's)."""
    ours = identity(target_storage(alias))
    labels = labels or setting("FILE_FIELDS", FIELD_HINT)
    if not labels:
        return [t for t in concrete_file_fields() if identity(t.storage) == ours]
    targets: list[FileTarget] = []
    for label in dict.fromkeys(labels):
        target = parse_label(label)
        if identity(target.storage) != ours:
            raise TargetError(
                f"{target.label} does not store its files in the bucket of STORAGES[{alias!r}]",
                "Pass --storage with the alias its storage uses, or leave it out of "
                'R2_TOOLKIT["FILE_FIELDS"] and --field.',
            )
        targets.append(target)
    return targets


def configured_labels() -> tuple[str, ...]:
    """``R2_TOOLKIT["FILE_FIELDS"]`` as cast (for reports)."""
    labels: tuple[str, ...] = toolkit_settings.FILE_FIELDS
    return labels
