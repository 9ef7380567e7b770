"""The retry policy of every request the backfill and the audit send.

Transient answers (429, 5xx, 409, SlowDown, dropped connections) are retried
with jittered exponential backoff, a bounded number of times; botocore's and
obstore's own retries are off so the bound is ours.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from r2_toolkit.core.errors import error_code, http_status, is_missing
from r2_toolkit.migrations_r2.native import TransportError

T = TypeVar("T")

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
RETRY_CODES = {
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "OperationAborted",
    "ConditionalRequestConflict",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter: a random wait up to the exponential bound."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


RETRIES = RetryPolicy()  # the bound of every request unless a caller sets its own


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return http_status(exc) in RETRY_STATUSES or error_code(exc) in RETRY_CODES
    return isinstance(exc, (ConnectionError, HTTPClientError, ReadTimeoutError, TransportError))


def with_retries(
    call: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], object] = time.sleep
) -> T:
    """``call()``, retried on transient failures; the last error is raised."""
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or attempt == policy.attempts - 1:
                raise
            sleep(policy.delay(attempt))
    # Only a policy of no attempts gets here: nothing was called, nothing to return.
    raise ValueError(f"a retry policy needs at least one attempt, not {policy.attempts}")


def head_or_none(client: Any, bucket: str, key: str, policy: RetryPolicy) -> Any:
    """HeadObject's response for ``key``, retried as ``policy`` says; None
    when the key does not exist."""
    try:
        return with_retries(lambda: client.head_object(Bucket=bucket, Key=key), policy)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
