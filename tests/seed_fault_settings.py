"""The seed application's first configuration: storage named the pre-4.2
way, so Django 5.1+ keeps the filesystem default and files land on disk."""

from settings.local import *  # noqa: F403

DEFAULT_FILE_STORAGE = "storages.backends.s3.S3Storage"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
