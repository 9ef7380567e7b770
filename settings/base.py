"""Settings shared by every environment; each value can be overridden by an
environment variable of the same name (django-storages' own names for the
storage). Projects may also write ``from settings.base import *`` and override.
"""

from pathlib import Path

import dj_database_url
from botocore.config import Config

from r2_toolkit.core.compat import checksum_options
from settings.env import env, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env("DJANGO_SECRET_KEY", "insecure-local-only-key")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_extensions",
    "storages",
    "r2_toolkit.toolkit",
    "gallery",
    "r2_toolkit.migrations_r2",
]

MIDDLEWARE = [
    # First: /healthz answers probes that address the pod by IP (no
    # ALLOWED_HOSTS check) and skips the rest of the stack; see docs/endpoints.md.
    "r2_toolkit.toolkit.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "settings.urls"
WSGI_APPLICATION = "settings.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=60,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# --- Storage: django-storages' own setting names, read from the environment.
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", "auto")
AWS_S3_CUSTOM_DOMAIN = env("AWS_S3_CUSTOM_DOMAIN")
AWS_S3_URL_PROTOCOL = env("AWS_S3_URL_PROTOCOL", "https:")
AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", False)
AWS_DEFAULT_ACL = env("AWS_DEFAULT_ACL")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_FILE_OVERWRITE = False
AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "public, max-age=31536000, immutable"}

# botocore >= 1.36 sends CRC32 checksum headers on every upload by default;
# R2 and several other S3-compatible stores have rejected them. Only send
# checksums when the operation requires one.
# With a client config, django-storages ignores AWS_S3_SIGNATURE_VERSION, and
# botocore presigns S3 URLs with SigV2 unless the config names SigV4.
AWS_S3_CLIENT_CONFIG = Config(
    signature_version="s3v4",
    **checksum_options(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    ),
)

STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- The toolkit: one dict, defaults in core/conf.py (cast and validated there).
R2_TOOLKIT = {
    # The demo keeps the seed's record model and its key layout; a site
    # without them leaves both out (field mode: rows keep their own names).
    "IMAGE_MODEL": "gallery.UserImage",
    "KEY_TEMPLATE": "users/{username}/images/{stem}-{hash}{ext}",
    "TOKEN": env("R2_TOOLKIT_TOKEN"),
    "CORS_ORIGINS": env_list("R2_TOOLKIT_CORS_ORIGINS"),
    "BACKFILL_CLIENT": env("R2_TOOLKIT_BACKFILL_CLIENT", "native"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"r2_toolkit": {"level": env("R2_TOOLKIT_LOG_LEVEL", "INFO")}},
}
