"""The ``R2_TOOLKIT`` settings: one object, defaults in one place, every value
cast and validated once, read lazily.

Modelled on rest_framework.settings: ``toolkit_settings.HEALTH_TTL`` reads
``settings.R2_TOOLKIT["HEALTH_TTL"]`` (or its default) the first time it is
asked for, casts it (``"5"`` is 5.0, ``"a, b"`` is ``("a", "b")``) and keeps
the result until a test overrides the setting. A value that cannot be cast
raises ImproperlyConfigured naming the key, the value and the fix; an unknown
or removed key is reported by :func:`problems` (Django's system checks and
``r2_check`` show it), never silently ignored.
"""

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

R2_FIELDS = ("storage_key", "public_url", "mime_type", "width", "height", "size_bytes")


class InvalidValue(ValueError):
    """A cast refused a value; the message says what was expected."""


# --- casts: value as written in settings -> the value every consumer reads ---


def text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("expected a non-empty string")
    return value.strip()


def optional_text(value: object) -> str | None:
    return None if value is None or value == "" else text(value)


def text_list(value: object) -> tuple[str, ...]:
    """A list, tuple or comma-separated string -> a tuple of stripped strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue("expected a list of strings or a comma-separated string")
    items = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidValue(f"expected strings, found {type(item).__name__} {item!r}")
        if item.strip():
            items.append(item.strip())
    return tuple(items)


def number(
    minimum: float | None = None, integer: bool = False, maximum: float | None = None
) -> Callable[[object], float]:
    def cast(value: object) -> float:
        if isinstance(value, bool):
            raise InvalidValue("expected a number, not a boolean")
        result: float
        try:
            result = int(str(value).strip()) if integer else float(str(value).strip())
        except (TypeError, ValueError):
            raise InvalidValue(f"expected {'a whole number' if integer else 'a number'}") from None
        if minimum is not None and result < minimum:
            raise InvalidValue(f"expected at least {minimum}")
        if maximum is not None and result > maximum:
            raise InvalidValue(f"expected at most {maximum}")
        return result

    return cast


def choice(*options: str) -> Callable[[object], str]:
    def cast(value: object) -> str:
        word = text(value).lower()
        if word not in options:
            raise InvalidValue(f"expected one of {', '.join(options)}")
        return word

    return cast


def model_label(value: object) -> str:
    label = text(value)
    if label.count(".") != 1 or not all(label.split(".")):
        raise InvalidValue('expected "app_label.ModelName"')
    return label


def optional_model_label(value: object) -> str | None:
    return None if value is None or value == "" else model_label(value)


def field_labels(value: object) -> tuple[str, ...]:
    """``"app_label.Model.field"`` labels (a list or a comma-separated string)."""
    labels = text_list(value)
    for label in labels:
        parts = label.split(".")
        if len(parts) != 3 or not all(parts):
            raise InvalidValue(f'{label!r} is not "app_label.Model.field"')
    return labels


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("", "0", "false", "no", "off"):
        return False
    raise InvalidValue("expected True or False")


PROBE_MODES = ("head_bucket", "list", "get:", "public:")


def probe_mode(value: object) -> str:
    mode = text(value)
    plain = mode in ("head_bucket", "list")
    keyed = mode.startswith(("get:", "public:")) and mode.split(":", 1)[1].strip()
    if not (plain or keyed):
        raise InvalidValue('expected "head_bucket", "list", "get:<key>" or "public:<key>"')
    return mode


def health_probe(value: object) -> str | dict[str, str]:
    """One probe mode for every alias, or {alias: mode}."""
    if isinstance(value, dict):
        return {text(alias): probe_mode(mode) for alias, mode in value.items()}
    return probe_mode(value)


def field_map(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue("expected a dict of reference name -> your field name")
    unknown = sorted(set(value) - set(R2_FIELDS))
    if unknown:
        raise InvalidValue(f"unknown reference names {unknown}; the names are {list(R2_FIELDS)}")
    return {key: text(name) for key, name in value.items()}


def url_path(value: object) -> str:
    """An absolute URL path, as ``request.path_info`` spells it: "/healthz"."""
    path = text(value)
    if not path.startswith("/") or "?" in path or "#" in path:
        raise InvalidValue('expected an absolute path such as "/healthz"')
    return path


def prefix(value: object) -> str:
    """An object key prefix: no leading slash, exactly one trailing slash."""
    return text(value).strip("/") + "/"


@dataclass(frozen=True)
class Setting:
    default: object
    cast: Callable[[object], Any]
    example: str  # shown in the fix of an invalid value


SETTINGS: dict[str, Setting] = {
    # The file fields the backfill, the audit and the schema checks work on:
    # () is every FileField/ImageField whose storage is the target storage.
    "FILE_FIELDS": Setting((), field_labels, '["wagtailimages.Image.file"]'),
    # An optional record model whose rows keep per-file columns (the seed's
    # storage_key, public_url, mime_type, width, height, size_bytes), and the
    # names of those columns where they differ from the reference; None: no
    # record model, the file fields alone.
    "IMAGE_MODEL": Setting(None, optional_model_label, '"photos.Photo"'),
    "FIELD_MAP": Setting({}, field_map, '{"public_url": "cdn_url"}'),
    # Record model only: another key layout than the row's file name, e.g.
    # "users/{username}/images/{basename}"; the file field's name is then
    # updated to the key in the same UPDATE. None keeps the row's name.
    "KEY_TEMPLATE": Setting(None, optional_text, '"users/{username}/images/{basename}"'),
    # The FileField holding the legacy name, and the lookup from a row to its
    # owner's username (the key scheme is users/<username>/images/...).
    "IMAGE_FIELD": Setting("image", text, '"image"'),
    "USERNAME_PATH": Setting("user__username", text, '"user__username"'),
    # Browser origins that must be able to GET and PUT (R2_TOOLKIT_CORS_ORIGINS).
    "CORS_ORIGINS": Setting((), text_list, '["https://app.example.com"]'),
    # Bearer token for the debug endpoints (R2_TOOLKIT_TOKEN); None disables
    # token access, staff sessions still work.
    "TOKEN": Setting(None, optional_text, "a long random string"),
    # /healthz: seconds a probe result is reused, and the probe's own deadline.
    "HEALTH_TTL": Setting(5.0, number(minimum=0), "5"),
    "HEALTH_TIMEOUT": Setting(2.0, number(minimum=0.1), "2"),
    # The path toolkit.middleware.HealthCheckMiddleware answers (with and
    # without a trailing slash), and an object key whose public URL (through
    # the custom domain) /healthz also HEADs; None probes the bucket only.
    "HEALTH_PATH": Setting("/healthz", url_path, '"/healthz"'),
    "HEALTH_PUBLIC_OBJECT": Setting(None, optional_text, '"health/ping.txt"'),
    # What the health probe asks, for every alias or per alias: "head_bucket",
    # "list" (ListObjectsV2 of one key), "get:<key>" or "public:<key>".
    "HEALTH_PROBE": Setting("head_bucket", health_probe, '"list" or {"default": "get:ping.txt"}'),
    # /metrics without a token or staff session.
    "METRICS_PUBLIC": Setting(False, boolean, "True"),
    # r2_check: overall deadline, and where the round-trip writes its probe.
    "CHECK_TIMEOUT": Setting(30.0, number(minimum=0.1), "30"),
    "PROBE_PREFIX": Setting("_r2_toolkit/probe/", prefix, '"_r2_toolkit/probe/"'),
    # r2_audit --delete-orphans moves orphans here (then <date>/<key>).
    "QUARANTINE_PREFIX": Setting("r2-toolkit-quarantine/", prefix, '"r2-toolkit-quarantine/"'),
    # Check ids reported as skipped everywhere (as SILENCED_SYSTEM_CHECKS).
    "SILENCED": Setting((), text_list, '["r2.storages.file_overwrite"]'),
    # Highest allowed clock skew against the server's Date header, seconds.
    "MAX_CLOCK_SKEW": Setting(300.0, number(minimum=0), "300"),
    # r2_backfill defaults.
    "BACKFILL_BATCH_SIZE": Setting(200, number(minimum=1, maximum=1000, integer=True), "200"),
    "BACKFILL_WORKERS": Setting(16, number(minimum=1, maximum=512, integer=True), "16"),
    # The client that sends the uploads: "native" (obstore, when it is
    # installed and can express the settings; else boto3, saying why) or "boto3".
    "BACKFILL_CLIENT": Setting("native", choice("native", "boto3"), '"boto3"'),
}

# Keys that were valid once: what replaced them.
REMOVED: dict[str, str] = {
    "BACKFILL_AFTER_MIGRATION": (
        "the one-off backfill migration now lives in your own app: run "
        "`python manage.py r2_backfill --make-migration APP_LABEL` once and commit the file it "
        "writes, then remove BACKFILL_AFTER_MIGRATION"
    ),
}


@dataclass(frozen=True)
class Problem:
    level: str  # "warning" | "error"
    id: str
    message: str
    hint: str


class ToolkitSettings:
    # The settings contract: what each key of SETTINGS reads as once cast
    # (annotations only: every value is still cast on first read, by __getattr__).
    FILE_FIELDS: tuple[str, ...]
    IMAGE_MODEL: str | None
    FIELD_MAP: dict[str, str]
    KEY_TEMPLATE: str | None
    IMAGE_FIELD: str
    USERNAME_PATH: str
    CORS_ORIGINS: tuple[str, ...]
    TOKEN: str | None
    HEALTH_TTL: float
    HEALTH_TIMEOUT: float
    HEALTH_PATH: str
    HEALTH_PUBLIC_OBJECT: str | None
    HEALTH_PROBE: str | dict[str, str]
    METRICS_PUBLIC: bool
    CHECK_TIMEOUT: float
    PROBE_PREFIX: str
    QUARANTINE_PREFIX: str
    SILENCED: tuple[str, ...]
    MAX_CLOCK_SKEW: float
    BACKFILL_BATCH_SIZE: int
    BACKFILL_WORKERS: int
    BACKFILL_CLIENT: Literal["native", "boto3"]

    def __init__(self, spec: Mapping[str, Setting] = SETTINGS) -> None:
        self.spec = spec
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> Any:
        if not hasattr(self, "_user_settings"):
            self._user_settings = getattr(settings, "R2_TOOLKIT", None) or {}
        return self._user_settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.spec:
            raise AttributeError(f"Invalid R2_TOOLKIT setting: {name!r}")
        value = self.cast(name)
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def cast(self, name: str) -> Any:
        """The cast value of ``name``; ImproperlyConfigured naming the fix."""
        spec = self.spec[name]
        if not isinstance(self.user_settings, dict):
            raise ImproperlyConfigured(self._not_a_dict())
        if name not in self.user_settings:
            return spec.cast(spec.default)
        raw = self.user_settings[name]
        try:
            return spec.cast(raw)
        except InvalidValue as exc:
            raise ImproperlyConfigured(
                f'R2_TOOLKIT["{name}"] is {raw!r}: {exc}; set it like {spec.example}, '
                "or remove it for the default."
            ) from None

    def field(self, name: str) -> str:
        """The model field that plays the reference schema's ``name``."""
        field_map: dict[str, str] = self.FIELD_MAP
        return field_map.get(name, name)

    def problems(self) -> list[Problem]:
        """Every unknown, removed or invalid key, as Problems."""
        if not isinstance(self.user_settings, dict):
            return [Problem("error", "r2.settings.invalid_value", self._not_a_dict(), "")]
        found: list[Problem] = []
        for name in self.user_settings:
            if name in REMOVED:
                fix = REMOVED[name]
                found.append(
                    Problem(
                        "error",
                        "r2.settings.removed_key",
                        f'R2_TOOLKIT["{name}"] is no longer used',
                        fix[0].upper() + fix[1:] + ".",
                    )
                )
            elif name not in self.spec:
                close = difflib.get_close_matches(str(name), self.spec, n=1)
                hint = f"Did you mean {close[0]!r}? " if close else ""
                found.append(
                    Problem(
                        "warning",
                        "r2.settings.unknown_key",
                        f"R2_TOOLKIT has an unknown key {name!r}; it is ignored",
                        hint + "The known keys are: " + ", ".join(self.spec) + ".",
                    )
                )
        for name in self.spec:
            try:
                self.cast(name)
            except ImproperlyConfigured as exc:
                found.append(Problem("error", "r2.settings.invalid_value", str(exc), ""))
        return found

    def _not_a_dict(self) -> str:
        return (
            f"R2_TOOLKIT is a {type(self.user_settings).__name__}, not a dict; "
            'write R2_TOOLKIT = {"KEY": value, ...}.'
        )

    def reload(self) -> None:
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()
        self.__dict__.pop("_user_settings", None)


toolkit_settings = ToolkitSettings()


def _reload(*, setting: str, **kwargs: object) -> None:
    if setting == "R2_TOOLKIT":
        toolkit_settings.reload()


setting_changed.connect(_reload)
