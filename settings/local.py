"""The embedded default: SQLite and the local S3 emulator on loopback.

`make demo` starts the emulator (moto's server mode) on EMULATOR_PORT, creates
the bucket with CORS rules and public read, and stops it again. Every value
can still be overridden from the environment.
"""

from settings.base import *  # noqa: F403
from settings.env import env, env_bool, env_list

EMULATOR_PORT = int(env("R2_TOOLKIT_EMULATOR_PORT", "9100"))
EMULATOR_URL = f"http://127.0.0.1:{EMULATOR_PORT}"

DEBUG = env_bool("DJANGO_DEBUG", True)

# The default SQLite file and MEDIA_ROOT live under var/, made on first use.
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405

AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", EMULATOR_URL)
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", "r2-toolkit-demo")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", "local-access-key")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", "local-secret-key")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", "us-east-1")
# The emulator serves the bucket path-style; anonymous reads through this
# "custom domain" are what an R2 public bucket gives in production.
AWS_S3_CUSTOM_DOMAIN = env(
    "AWS_S3_CUSTOM_DOMAIN", f"127.0.0.1:{EMULATOR_PORT}/{AWS_STORAGE_BUCKET_NAME}"
)
AWS_S3_URL_PROTOCOL = env("AWS_S3_URL_PROTOCOL", "http:")

R2_TOOLKIT = {
    **R2_TOOLKIT,  # noqa: F405
    "TOKEN": env("R2_TOOLKIT_TOKEN", "local-dev-token"),
    "CORS_ORIGINS": env_list("R2_TOOLKIT_CORS_ORIGINS", ["http://localhost:8000"]),
}
