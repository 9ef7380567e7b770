"""The backfill as it runs against R2: the storage names an R2 endpoint,
reached through the latency proxy (R2_BENCH_PROXY) in front of moto, so the
backfill treats the server as R2 (known to honour If-None-Match: no round
trips to find out) while every byte goes to the same server as s5cmd's."""

import os

from botocore.config import Config

from settings.local import *  # noqa: F403
from toolkit.core.compat import checksum_options

AWS_S3_ENDPOINT_URL = "http://bench.r2.cloudflarestorage.com"
AWS_S3_CLIENT_CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "virtual"},  # the proxy sees the bucket in the Host header
    proxies={"http": os.environ["R2_BENCH_PROXY"]},
    **checksum_options(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    ),
)
