"""Reading the environment for the settings modules.

An empty variable counts as unset: deploy platforms often render a missing
secret as ``VAR=`` and that must not pass for a value.
"""

import os

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env(name, default=None):
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no.")


def env_list(name, default=()):
    value = env(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def missing(names):
    """The names among ``names`` whose variables are unset or empty."""
    return [name for name in names if env(name) is None]
