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
    settings,
    storages,
    toolkit_settings,
)
from r2_toolkit.checks.registry import GROUPS, REGISTRY, Check, Result  # noqa: F401
