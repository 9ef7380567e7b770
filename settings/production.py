"""Production: everything from the environment, nothing guessed.

Refuses to start when a required variable is unset or empty, naming each one,
so a deploy fails at boot instead of on the first upload.
"""

from django.core.exceptions import ImproperlyConfigured

from settings.base import *  # noqa: F403
from settings.env import env_bool, missing

REQUIRED = [
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "AWS_S3_ENDPOINT_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
]

_missing = missing(REQUIRED)
if _missing:
    raise ImproperlyConfigured(
        "settings.production cannot start: set the environment variable"
        f"{'s' if len(_missing) > 1 else ''} {', '.join(_missing)} "
        "(see .env.example; an empty value counts as unset)."
    )

DEBUG = env_bool("DJANGO_DEBUG", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
