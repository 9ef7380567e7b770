"""The /healthz probe: HeadBucket on the default S3 alias, cached and bounded.

With ``HEALTH_PUBLIC_OBJECT`` set, the probe also HEADs that object's public
URL (``storage.url(key)``: the custom domain, the CDN in front of it), so a
broken domain turns /healthz 503 even while the S3 API still answers. Both
requests share the TTL and the deadline below.

Uptime monitors poll from many places every few seconds; the bucket must not
see one request per poll. So the answer is cached for ``HEALTH_TTL`` seconds
per process, and when it expires only one request (the "single flight") asks
the bucket again while the others wait for that answer. The probe runs on a
daemon thread with its own deadline, ``HEALTH_TIMEOUT``: a bucket that hangs
costs monitors at most that long, and a probe that outlives its deadline is
abandoned (its client's own timeouts end it soon after) and counts as down.

The probe is read-only and never touches the database.
"""

import logging
import threading
import time
import urllib.request

from botocore.config import Config
from django.core.signals import setting_changed

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.core.errors import debugging, describe
from r2_toolkit.toolkit.core.http import fetch
from r2_toolkit.toolkit.core.redact import redact_url
from r2_toolkit.toolkit.core.storage import s3_aliases

logger = logging.getLogger("r2_toolkit.health")


class ProbeContext(CheckContext):
    """The storage's own client, with timeouts inside the probe's deadline and
    no retries: a retry would only spend the deadline twice."""

    def client_config(self, base=None):
        limits = Config(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        return base.merge(limits) if base is not None else limits


class PublicObjectUnavailable(Exception):
    """The public URL of HEALTH_PUBLIC_OBJECT did not answer 2xx."""


class Flight:
    """One probe in the air: its deadline and, once landed, its answer."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.landed = threading.Event()
        self.healthy = False


class HealthProbe:
    """Whether the bucket answers, asked at most once per TTL per process."""

    def __init__(self, probe=None, ttl=None, timeout=None, prepare=None):
        self._probe = probe or self.storage_answers
        self._prepare = prepare or (self.context if probe is None else (lambda: None))
        self._ttl = ttl
        self._timeout = timeout
        self._lock = threading.Lock()
        self._healthy = False
        self._expires = float("-inf")
        self._flight = None
        self._context = None
        self._context_lock = threading.Lock()

    @property
    def ttl(self):
        return float(self._ttl if self._ttl is not None else toolkit_settings.HEALTH_TTL)

    @property
    def timeout(self):
        return float(
            self._timeout if self._timeout is not None else toolkit_settings.HEALTH_TIMEOUT
        )

    def is_healthy(self):
        with self._lock:
            if time.monotonic() < self._expires:
                return self._healthy
            flight = self._flight
            if flight is None:
                self.prepare()
                flight = self._flight = Flight(time.monotonic() + self.timeout)
                threading.Thread(
                    target=self._fly, args=(flight,), daemon=True, name="r2-health-probe"
                ).start()
        flight.landed.wait(max(0.0, flight.deadline - time.monotonic()))
        healthy = flight.landed.is_set() and flight.healthy
        with self._lock:
            if self._flight is flight:  # the first waiter back records the answer
                self._flight = None
                self._healthy = healthy
                self._expires = time.monotonic() + self.ttl
                if not flight.landed.is_set():
                    logger.warning("healthz: the bucket did not answer within %gs", self.timeout)
        return healthy

    def prepare(self):
        """Build the client before the deadline starts: the first probe of a
        process pays for importing and building it (a second or more on a busy
        host), which says nothing about the bucket. No network I/O here."""
        try:
            self._prepare()
        except Exception as exc:  # the probe will fail the same way, and answer 503
            logger.warning(
                "healthz: cannot build the storage client: %s",
                describe(exc),
                exc_info=debugging(logger),
            )

    def _fly(self, flight):
        try:
            flight.healthy = bool(self._probe())
        except Exception as exc:  # any failure is "unavailable"; the reason goes to the log only
            logger.warning(
                "healthz: the storage probe failed: %s", describe(exc), exc_info=debugging(logger)
            )
            flight.healthy = False
        finally:
            flight.landed.set()

    # --- the default probe -------------------------------------------------
    def context(self):
        """One context, hence one boto3 client, per process, built on first use."""
        with self._context_lock:
            if self._context is None:
                aliases = s3_aliases()
                context = ProbeContext(aliases[0] if aliases else None, timeout=self.timeout)
                context.client()
                self._context = context
            return self._context

    def storage_answers(self):
        """HeadBucket, then the public object's URL when one is configured."""
        self.head_bucket()
        key = toolkit_settings.HEALTH_PUBLIC_OBJECT
        if key:
            self.head_public_object(key)
        return True

    def head_bucket(self):
        context = self.context()
        context.client().head_bucket(Bucket=context.bucket)
        return True

    def head_public_object(self, key):
        """HEAD ``key`` at the URL browsers get for it; raises unless 2xx.
        Plain HTTP, as a browser would ask: no credentials, redirects followed."""
        url = self.context().storage().url(key)
        status, _, _ = fetch(urllib.request.Request(url, method="HEAD"), self.timeout, limit=0)
        if not 200 <= status < 300:
            raise PublicObjectUnavailable(
                f"the public URL {redact_url(url)} of HEALTH_PUBLIC_OBJECT answered HTTP {status}"
            )
        return True

    def forget(self):
        """Drop the cached answer and client (after the settings changed)."""
        with self._lock:
            self._expires = float("-inf")
            self._flight = None
            self._context = None


probe = HealthProbe()


def _forget_on_change(*, setting, **kwargs):
    if setting in ("R2_TOOLKIT", "STORAGES") or setting.startswith("AWS_"):
        probe.forget()


setting_changed.connect(_forget_on_change)
