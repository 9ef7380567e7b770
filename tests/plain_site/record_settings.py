"""The plain site with a record model keeping a subset of the R2 fields
(``plainfiles.Record``); ``KEY_TEMPLATE`` from the environment, if set."""

import os

from tests.plain_site.settings import *  # noqa: F403

R2_TOOLKIT = {  # noqa: F405
    **R2_TOOLKIT,  # noqa: F405
    "IMAGE_MODEL": "plainfiles.Record",
    "USERNAME_PATH": "owner__username",
    "KEY_TEMPLATE": os.environ.get("TEST_KEY_TEMPLATE") or None,
}
