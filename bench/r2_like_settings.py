"""The backfill as it runs against R2: the storage names an R2 endpoint,
reached through the latency proxy (R2_BENCH_PROXY) in front of moto, so the
backfill treats the server as R2 (known to honour If-None-Match: no round
trips to find out) while every byte goes to the same server as s5cmd's."""

import os

from botocore.config import Config

from settings.local import *  # noqa: F403
from settings.local import AWS_S3_CLIENT_CONFIG as SITE_CLIENT_CONFIG

AWS_S3_ENDPOINT_URL = "http://bench.r2.cloudflarestorage.com"
# The site's own client config (SigV4, checksums only when required), plus:
AWS_S3_CLIENT_CONFIG = SITE_CLIENT_CONFIG.merge(
    Config(
        s3={"addressing_style": "virtual"},  # the proxy sees the bucket in the Host header
        proxies={"http": os.environ["R2_BENCH_PROXY"]},
    )
)
