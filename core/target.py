"""The image model the toolkit works on, resolved from the settings once and
in one wording for the schema checks, the backfill and the audit:
``IMAGE_MODEL``, its six R2 fields (``FIELD_MAP`` applied), the FileField
that holds the legacy name (``IMAGE_FIELD``) and the lookup from a row to its
owner's username (``USERNAME_PATH``).

Every problem is a :class:`TargetError`: one sentence naming the setting and
what it points at, and a hint saying how to fix it.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.core.exceptions import FieldDoesNotExist, FieldError, ImproperlyConfigured
from django.db import router
from django.db.models import FileField

from r2_toolkit.core import compat
from r2_toolkit.core.conf import R2_FIELDS, toolkit_settings
from r2_toolkit.core.keys import template_name


class TargetError(ValueError):
    """The settings point at something that is not there."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def sentence(self) -> str:
        """Problem and fix in one line, for command output."""
        return f"{self.message}. {self.hint}"


def write_db(model: Any) -> str:
    """The database alias ``model``'s rows are written to (the project's router)."""
    db: str = router.db_for_write(model)
    return db


class ModelRows:
    """The rows of a target's ``model``: the database they are written to and
    its base manager there. Not the default manager: one that hides rows
    (soft deletes, unpublished pages) must not hide their files."""

    model: Any  # a model class (Django ships no annotations)

    @property
    def db(self) -> str:
        return write_db(self.model)

    @property
    def manager(self) -> Any:
        return self.model._base_manager.using(self.db)


def setting(name: str, hint: str) -> Any:
    """The cast value of ``name``; an uncastable one as a TargetError."""
    try:
        return getattr(toolkit_settings, name)
    except ImproperlyConfigured as exc:
        raise TargetError(str(exc).rstrip("."), hint) from None


def image_model() -> Any:
    """The model ``IMAGE_MODEL`` names."""
    hint = (
        'Set R2_TOOLKIT["IMAGE_MODEL"] to your record model as "app_label.ModelName", '
        "and make sure its app is in INSTALLED_APPS."
    )
    label = setting("IMAGE_MODEL", hint)
    if label is None:
        raise TargetError('R2_TOOLKIT["IMAGE_MODEL"] is not set: there is no record model', hint)
    try:
        return global_apps.get_model(label)
    except LookupError:
        raise TargetError(
            f'R2_TOOLKIT["IMAGE_MODEL"] is {label!r}, which is not an installed model', hint
        ) from None


def record_model() -> Any:
    """The configured record model (``IMAGE_MODEL``), or None when there is
    none (the default); TargetError when the setting points nowhere."""
    configured: object
    try:
        configured = toolkit_settings.IMAGE_MODEL
    except ImproperlyConfigured:  # an uncastable value: image_model() words it
        configured = True
    return image_model() if configured is not None else None


def uses_template() -> bool:
    """Whether the record model's rows get keys of ``KEY_TEMPLATE``'s layout
    instead of their own names."""
    return toolkit_settings.KEY_TEMPLATE is not None


def templated_name(legacy_name: str, username: object, location: str | None) -> str:
    """The name a record row's file gets under ``KEY_TEMPLATE`` (the one the
    backfill renames the row to): the checks measure and look up this name."""
    template = toolkit_settings.KEY_TEMPLATE
    assert template is not None, "only called when uses_template()"
    return template_name(template, legacy_name, username, location)


def r2_fields(model: Any, required: Collection[str] = R2_FIELDS) -> dict[str, Any]:
    """Reference name -> the model's field that plays it (``FIELD_MAP`` applied).

    A name ``FIELD_MAP`` maps must exist; an unmapped reference name counts
    where the model has a field of that name, and must exist only when it is
    in ``required`` (the schema checks require none: a record model may keep
    any subset of the six)."""
    hint = (
        'Add the field to the model, or map it: R2_TOOLKIT["FIELD_MAP"] = '
        '{"<reference name>": "<your field>"} for each of ' + ", ".join(R2_FIELDS) + "."
    )
    mapping = setting("FIELD_MAP", hint)
    found: dict[str, Any] = {}
    for reference in R2_FIELDS:
        name = toolkit_settings.field(reference)
        try:
            found[reference] = model._meta.get_field(name)
        except FieldDoesNotExist:
            if reference not in mapping and reference not in required:
                continue
            known = ", ".join(f.name for f in model._meta.concrete_fields)
            raise TargetError(
                f"{model._meta.label} has no field {name!r} (the toolkit's {reference}); "
                f"its fields are: {known}",
                hint,
            ) from None
    return found


def image_field(model: Any) -> Any:
    """The FileField holding the legacy file name (``IMAGE_FIELD``)."""
    hint = 'Set R2_TOOLKIT["IMAGE_FIELD"] to the name of the model\'s FileField/ImageField.'
    name = setting("IMAGE_FIELD", hint)
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        raise TargetError(
            f'R2_TOOLKIT["IMAGE_FIELD"] is {name!r}, but {model._meta.label} has no such field',
            hint,
        ) from None
    if not isinstance(found, FileField):
        raise TargetError(
            f'R2_TOOLKIT["IMAGE_FIELD"] is {name!r}, but {model._meta.label}.{name} is a '
            f"{type(found).__name__}, not a FileField or ImageField",
            hint,
        )
    return found


def username_path(model: Any) -> str:
    """``USERNAME_PATH``, checked to lead somewhere from ``model`` (keys are
    ``users/<username>/images/...``). Builds the SQL, runs no query."""
    hint = (
        'Set R2_TOOLKIT["USERNAME_PATH"] to the lookup from the image model to its '
        'owner\'s username, e.g. "user__username".'
    )
    path: str = setting("USERNAME_PATH", hint)
    try:
        compat.query_sql(model._default_manager.values(path))
    except (FieldError, FieldDoesNotExist):
        raise TargetError(
            f'R2_TOOLKIT["USERNAME_PATH"] is {path!r}, which does not lead from '
            f"{model._meta.label} to a value",
            hint,
        ) from None
    return path


@dataclass(frozen=True)
class ImageTarget(ModelRows):
    """The image model and the names of the fields the toolkit uses."""

    model: Any  # a model class (Django ships no annotations)
    image_field: str
    username_path: str | None  # None: no owner looked up (no {username} in the key)
    fields: dict[str, str]  # reference name (R2_FIELDS) -> the model's field name

    @classmethod
    def resolve(
        cls, model: Any = None, required: tuple[str, ...] = R2_FIELDS, owner: bool = True
    ) -> "ImageTarget":
        """The configured target, every setting validated; TargetError otherwise.
        ``model`` overrides IMAGE_MODEL (a migration passes its historical one);
        ``required``: the R2 fields the caller needs (the others are used
        where the model has them); ``owner``: whether rows need their owner's
        username (``USERNAME_PATH``)."""
        model = image_model() if model is None else model
        return cls(
            model,
            image_field(model).name,
            username_path(model) if owner else None,
            {reference: f.name for reference, f in r2_fields(model, required).items()},
        )

    @property
    def label(self) -> str:
        label: str = self.model._meta.label
        return label

    def field(self, name: str) -> Any:
        return self.model._meta.get_field(self.fields[name])

    @property
    def file_field(self) -> Any:
        return self.model._meta.get_field(self.image_field)

    def legacy(self) -> Any:
        return self.manager.filter(**{f"{self.fields['storage_key']}__isnull": True})

    def migrated(self) -> Any:
        return self.manager.filter(**{f"{self.fields['storage_key']}__isnull": False})
