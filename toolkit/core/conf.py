"""The ``R2_TOOLKIT`` settings dict, read lazily with defaults.

Modelled on rest_framework.settings: ``toolkit_settings.HEALTH_TTL`` reads
``settings.R2_TOOLKIT["HEALTH_TTL"]`` or its default, and the cache is dropped
when a test overrides the setting.
"""

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS = {
    # The image model the schema checks and the backfill work on, and the
    # names of its six R2 fields when they differ from the reference schema.
    "IMAGE_MODEL": "gallery.UserImage",
    "FIELD_MAP": {},
    # Which field of the image model holds the legacy file name, and how the
    # owner's username is reached from a row (for the key scheme).
    "IMAGE_FIELD": "image",
    "USERNAME_PATH": "user__username",
    # Browser origins that must be able to GET and PUT (R2_TOOLKIT_CORS_ORIGINS).
    "CORS_ORIGINS": [],
    # Bearer token for the debug endpoints (R2_TOOLKIT_TOKEN); None disables
    # token access, staff sessions still work.
    "TOKEN": None,
    # /healthz: seconds a probe result is reused, and the probe's own deadline.
    "HEALTH_TTL": 5.0,
    "HEALTH_TIMEOUT": 2.0,
    # r2_check: overall deadline, and where the round-trip writes its probe.
    "CHECK_TIMEOUT": 30.0,
    "PROBE_PREFIX": "_r2_toolkit/probe/",
    # Highest allowed clock skew against the server's Date header, seconds.
    "MAX_CLOCK_SKEW": 300,
    # r2_backfill defaults.
    "BACKFILL_BATCH_SIZE": 200,
    "BACKFILL_WORKERS": 16,
    # Migration the one-off backfill migration runs after (the one that adds
    # the R2 columns to IMAGE_MODEL).
    "BACKFILL_AFTER_MIGRATION": ("gallery", "0002_r2_columns"),
}

R2_FIELDS = ("storage_key", "public_url", "mime_type", "width", "height", "size_bytes")


class ToolkitSettings:
    def __init__(self, defaults=DEFAULTS):
        self.defaults = defaults
        self._cached = set()

    @property
    def user_settings(self):
        if not hasattr(self, "_user_settings"):
            self._user_settings = getattr(settings, "R2_TOOLKIT", {}) or {}
        return self._user_settings

    def __getattr__(self, name):
        if name not in self.defaults:
            raise AttributeError(f"Invalid R2_TOOLKIT setting: {name!r}")
        value = self.user_settings.get(name, self.defaults[name])
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def field(self, name):
        """The model field that plays the reference schema's ``name``."""
        return self.FIELD_MAP.get(name, name)

    def reload(self):
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()
        self.__dict__.pop("_user_settings", None)


toolkit_settings = ToolkitSettings()


def _reload(*, setting, **kwargs):
    if setting == "R2_TOOLKIT":
        toolkit_settings.reload()


setting_changed.connect(_reload)
