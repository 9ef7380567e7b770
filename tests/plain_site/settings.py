"""A plain site: its own file fields, no R2_TOOLKIT record model."""

import os

from settings.test import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "gallery"]  # noqa: F405
INSTALLED_APPS += ["tests.plain_site.plainfiles"]
R2_TOOLKIT = {k: v for k, v in R2_TOOLKIT.items() if k != "IMAGE_MODEL"}  # noqa: F405
MEDIA_ROOT = os.environ["MEDIA_ROOT"]
