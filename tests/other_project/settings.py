"""A project that is not the reference app: its image model is
``photos.Photo``, with its own names for the R2 columns, and the toolkit's
URLs live under ``/ops/``. docs/install.md describes these same steps."""

from settings.test import *  # noqa: F403

# The reference app is not installed: nothing may depend on it.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "gallery"]  # noqa: F405
INSTALLED_APPS += ["tests.other_project.photos"]

ROOT_URLCONF = "tests.other_project.urls"

R2_TOOLKIT = {
    **R2_TOOLKIT,  # noqa: F405
    "IMAGE_MODEL": "photos.Photo",
    "FIELD_MAP": {
        "storage_key": "object_key",
        "public_url": "cdn_url",
        "mime_type": "content_type",
        "width": "pixel_width",
        "height": "pixel_height",
        "size_bytes": "byte_size",
    },
    "IMAGE_FIELD": "file",
    "USERNAME_PATH": "owner__username",
    # The URLs live under /ops/, so the health middleware answers there too.
    "HEALTH_PATH": "/ops/healthz",
}
