"""A real Wagtail site for the tests: Wagtail's own images, renditions,
documents and user avatars (schemas the toolkit does not own), stored through
the S3 storage that settings.base wires from the environment (moto in the
tests). Nothing is configured for the toolkit but what docs/install.md asks a
Wagtail site to add: the apps, no record model, the URL include before
Wagtail's catch-all. The reference app is not installed."""

from settings.base import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "gallery"]  # noqa: F405
INSTALLED_APPS += [
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.admin",
    "wagtail.sites",
    "wagtail.search",
    "wagtail",
    "modelcluster",
    "taggit",
]
ROOT_URLCONF = "tests.wagtail_site.urls"
WAGTAIL_SITE_NAME = "R2 Toolkit test site"
WAGTAILADMIN_BASE_URL = "http://localhost"
R2_TOOLKIT = {}
