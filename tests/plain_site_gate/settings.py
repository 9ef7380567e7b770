"""A plain Django site as docs/install.md describes it: one
``ImageField(upload_to="photos/")``, no record model, no browser uploads,
nothing configured for the toolkit but its storage settings (read from the
environment by settings.base). The reference app is not installed."""

from settings.base import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "gallery"]  # noqa: F405
INSTALLED_APPS += ["tests.plain_site_gate.snapshots"]
ROOT_URLCONF = "tests.plain_site_gate.urls"
R2_TOOLKIT = {}
