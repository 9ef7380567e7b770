"""The plain site with a record model keeping a subset of the R2 fields
(``backfillfiles.Record``); ``KEY_TEMPLATE`` from the environment, if set."""

import os

from tests.plain_site_backfill.settings import *  # noqa: F403

R2_TOOLKIT = {  # noqa: F405
    **R2_TOOLKIT,  # noqa: F405
    "IMAGE_MODEL": "backfillfiles.Record",
    "USERNAME_PATH": "owner__username",
    "KEY_TEMPLATE": os.environ.get("TEST_KEY_TEMPLATE") or None,
}
