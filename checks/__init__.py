"""The checks, one module per concern.

Each check is a small function over a :class:`checks.context.CheckContext`,
registered with a stable id ``r2.<group>.<name>``; see :mod:`checks.registry`.
Importing this package registers them all, in group order.
"""

from r2_toolkit.checks import (  # noqa: F401  (registration by import)
    connectivity,
    cors,
    cors_live,
    health_probe,
    objects,
    roundtrip,
    schema,
    schema_fields,
    schema_lengths,
    schema_record,
    storages,
)

# The settings group's three modules register in reading order (a group's
# checks run and print in registration order): where the storage is, how URLs
# are built, the client's behaviour and credentials, then R2_TOOLKIT's own.
# isort: off
from r2_toolkit.checks import settings, settings_urls, settings_client, toolkit_settings  # noqa: F401, I001

# isort: on
from r2_toolkit.checks.registry import GROUPS, REGISTRY, Check, Result  # noqa: F401
