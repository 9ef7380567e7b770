"""Settings for the test suite: the local defaults, a throwaway database.

DATABASE_URL picks the server (SQLite in memory unless set); the S3 endpoint
is set per test by the fixtures that start real servers on free ports.
"""

import tempfile

import dj_database_url

from settings.env import env
from settings.local import *  # noqa: F403

DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL", "sqlite://:memory:"))}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="r2-toolkit-media-")
DEBUG = False
# Two suites on one PostgreSQL server at once (a matrix, two checkouts) must
# not share the test database: R2_TOOLKIT_TEST_DB names it per run.
if env("R2_TOOLKIT_TEST_DB"):
    DATABASES["default"]["TEST"] = {"NAME": env("R2_TOOLKIT_TEST_DB")}
