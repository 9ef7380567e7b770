"""Settings for the gunicorn processes of the endpoint tests: the local
defaults (everything from the environment), with the health probe's TTL and
deadline short enough to test, and an optional way to turn the token off."""

from settings.env import env, env_bool
from settings.local import *  # noqa: F403

R2_TOOLKIT = {
    **R2_TOOLKIT,  # noqa: F405
    "HEALTH_TTL": float(env("TEST_HEALTH_TTL", "1")),
    "HEALTH_TIMEOUT": float(env("TEST_HEALTH_TIMEOUT", "1")),
    "CHECK_TIMEOUT": float(env("TEST_CHECK_TIMEOUT", "15")),
}
if env_bool("TEST_NO_TOKEN", False):
    R2_TOOLKIT["TOKEN"] = None
if env_bool("TEST_CRASHING_CHECK", False):  # the status page tests' crashing check
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.crashing_check"]  # noqa: F405
if env("TEST_HEALTH_PUBLIC_OBJECT"):
    R2_TOOLKIT["HEALTH_PUBLIC_OBJECT"] = env("TEST_HEALTH_PUBLIC_OBJECT")
if env("TEST_HEALTH_PROBE"):  # JSON: "list" or {"default": "get:ping.txt"}
    import json

    R2_TOOLKIT["HEALTH_PROBE"] = json.loads(env("TEST_HEALTH_PROBE"))
if env_bool("TEST_METRICS_PUBLIC", False):
    R2_TOOLKIT["METRICS_PUBLIC"] = True
if env("TEST_SECOND_BUCKET"):  # a second S3 alias, "private", on the same endpoint
    STORAGES = {  # noqa: F405
        **STORAGES,  # noqa: F405
        "private": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": env("TEST_SECOND_BUCKET"), "custom_domain": None},
        },
    }
