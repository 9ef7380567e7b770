"""The readiness probe behind /healthz, /readyz and /metrics: every S3 alias
asked once per TTL per process, cached and bounded.

Each alias is asked what ``HEALTH_PROBE`` says for it (toolkit.probe_modes:
head_bucket, list, get:<name>, public:<name>), ``default`` first. The
``default`` alias decides readiness: it failing is ``fail`` (503); another
alias failing while ``default`` answers is ``warn`` (still 200: the site
serves its media, a second bucket is degraded). With ``HEALTH_PUBLIC_OBJECT``
set, the default alias's probe also HEADs that object's public URL, so a
broken domain fails it while the S3 API still answers.

Uptime monitors poll from many places every few seconds; the bucket must not
see one request per poll. So the answer is cached for ``HEALTH_TTL`` seconds
per process, and when it expires only one request (the "single flight") asks
the buckets again while the others wait for that answer. The aliases are
asked at once, each on a daemon thread with its own timeouts, inside one
deadline, ``HEALTH_TIMEOUT``: a bucket that hangs costs monitors at most that
long, and a probe that outlives the deadline is abandoned (its client's own
timeouts end it soon after) and counts as down.

Every flight's outcome per alias also feeds the process's probe statistics
(a duration histogram and the last success), which /metrics exposes. The
probe is read-only and never touches the database.
"""

import bisect
import datetime
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

from django.core.signals import setting_changed

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import debugging, describe
from r2_toolkit.core.storage import s3_aliases
from r2_toolkit.toolkit.probe_modes import ProbeContext, ask, mode_for, public_get

logger = logging.getLogger("r2_toolkit.health")

# The duration histogram's upper bounds, seconds: a healthy bucket answers in
# tens of milliseconds, the deadline is a few seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# One alias's probe in a flight: (alias, mode, the call: truthy when it answers
# well, else it raises).
Probe = tuple[str, str, Callable[[], object]]


@dataclass(frozen=True)
class AliasResult:
    """One alias's answer in one flight."""

    alias: str
    mode: str
    ok: bool
    duration: float  # seconds; the whole deadline for an abandoned probe
    started: float  # epoch seconds

    @property
    def iso_time(self) -> str:
        moment = datetime.datetime.fromtimestamp(self.started, datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Snapshot:
    """The last flight's answers, ``default`` (or the first alias) first."""

    results: tuple[AliasResult, ...] = ()

    @functools.cached_property  # read on every poll of /healthz
    def status(self) -> Literal["pass", "warn", "fail"]:
        """The health-check format's verdict: pass, warn or fail."""
        if not self.results or not self.results[0].ok:
            return "fail"
        return "pass" if all(result.ok for result in self.results) else "warn"

    @property
    def healthy(self) -> bool:
        return self.status != "fail"


@dataclass
class AliasStats:
    """What the process has seen of one alias since it started."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total: float = 0.0
    last_success: float | None = None  # epoch seconds
    up: bool = False

    def observe(self, result: AliasResult) -> None:
        index = bisect.bisect_left(BUCKETS, result.duration)
        if index < len(BUCKETS):
            self.buckets[index] += 1
        self.count += 1
        self.total += result.duration
        self.up = result.ok
        if result.ok:
            self.last_success = result.started + result.duration

    def cumulative(self) -> list[tuple[str, int]]:
        """[(upper bound, observations at or below it)], "+Inf" last."""
        running, pairs = 0, []
        for bound, n in zip(BUCKETS, self.buckets, strict=True):
            running += n
            pairs.append((repr(bound), running))
        return [*pairs, ("+Inf", self.count)]


class Flight:
    """One round of probes in the air: its deadline and the answers landed so far."""

    def __init__(self, probes: Sequence[Probe], deadline: float) -> None:
        self.probes = probes
        self.deadline = deadline
        self.started = time.time()
        self.clock = time.monotonic()
        self.answers: dict[str, tuple[bool, float]] = {}  # alias -> (ok, seconds)
        self.landed = threading.Event()
        self._lock = threading.Lock()
        if not probes:
            self.landed.set()

    def land(self, alias: str, ok: bool, seconds: float) -> None:
        with self._lock:
            self.answers[alias] = (ok, seconds)
            if len(self.answers) == len(self.probes):
                self.landed.set()

    def snapshot(self) -> tuple[Snapshot, list[str]]:
        """(the answers at the deadline, the aliases still in the air): a
        probe still in the air is down."""
        with self._lock:
            answers = dict(self.answers)
        timeout = self.deadline - self.clock
        results = tuple(
            AliasResult(alias, mode, *answers.get(alias, (False, timeout)), self.started)
            for alias, mode, _ in self.probes
        )
        return Snapshot(results), [alias for alias, _, _ in self.probes if alias not in answers]


class HealthProbe:
    """Whether the buckets answer, asked at most once per TTL per process.

    ``probe``: a callable standing in for the storage probes (returns truthy
    or raises), reported as the alias ``default``; for tests."""

    def __init__(
        self,
        probe: Callable[[], object] | None = None,
        ttl: float | None = None,
        timeout: float | None = None,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self._probe = probe
        self._prepare = prepare or (self.contexts if probe is None else (lambda: None))
        self._ttl = ttl
        self._timeout = timeout
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._expires = float("-inf")
        self._flight: Flight | None = None
        self._contexts: dict[str, ProbeContext] = {}
        self._context_lock = threading.Lock()
        self.stats: dict[str, AliasStats] = {}

    @property
    def ttl(self) -> float:
        return float(self._ttl if self._ttl is not None else toolkit_settings.HEALTH_TTL)

    @property
    def timeout(self) -> float:
        return float(
            self._timeout if self._timeout is not None else toolkit_settings.HEALTH_TIMEOUT
        )

    def is_healthy(self) -> bool:
        return self.status().healthy

    def status(self) -> Snapshot:
        """The cached Snapshot, or a fresh one (one flight for all waiters)."""
        with self._lock:
            if time.monotonic() < self._expires:
                return self._snapshot
            flight = self._flight
            if flight is None:
                self.prepare()
                flight = self._flight = Flight(self.probes(), time.monotonic() + self.timeout)
                for alias, _, call in flight.probes:
                    threading.Thread(
                        target=self._fly,
                        args=(flight, alias, call),
                        daemon=True,
                        name=f"r2-health-probe-{alias}",
                    ).start()
        flight.landed.wait(max(0.0, flight.deadline - time.monotonic()))
        snapshot, in_the_air = flight.snapshot()
        with self._lock:
            if self._flight is flight:  # the first waiter back records the answer
                self._flight = None
                self._snapshot = snapshot
                self._expires = time.monotonic() + self.ttl
                for result in snapshot.results:
                    self.stats.setdefault(result.alias, AliasStats()).observe(result)
                for alias in in_the_air:
                    logger.warning(
                        "healthz: storage %r did not answer within %gs", alias, self.timeout
                    )
        return snapshot

    def probes(self) -> list[Probe]:
        """[(alias, mode, callable)] for this flight, ``default`` first."""
        if self._probe is not None:
            return [("default", "custom", self._probe)]
        aliases = s3_aliases()
        return [
            (alias, mode_for(alias), self._asker(alias, public_too=index == 0))
            for index, alias in enumerate(aliases)
        ]

    def _asker(self, alias: str, public_too: bool = False) -> Callable[[], bool]:
        """The probe of ``alias``; ``public_too``: the first alias also HEADs
        HEALTH_PUBLIC_OBJECT's public URL, when one is set."""

        def call() -> bool:
            context = self.context(alias)
            ask(context, mode_for(alias))
            public = toolkit_settings.HEALTH_PUBLIC_OBJECT
            if public and public_too:
                public_get(context, public, method="HEAD", what="HEALTH_PUBLIC_OBJECT")
            return True

        return call

    def prepare(self) -> None:
        """Build the clients before the deadline starts: the first probe of a
        process pays for importing and building them (a second or more on a
        busy host), which says nothing about the bucket. No network I/O here."""
        try:
            self._prepare()
        except Exception as exc:  # the probe will fail the same way, and answer 503
            logger.warning(
                "healthz: cannot prepare the probe: %s", describe(exc), exc_info=debugging(logger)
            )

    def _fly(self, flight: Flight, alias: str, call: Callable[[], object]) -> None:
        started = time.monotonic()
        try:
            ok = bool(call())
        except Exception as exc:  # any failure is "down"; the reason goes to the log only
            logger.warning(
                "healthz: the probe of storage %r failed: %s",
                alias,
                describe(exc),
                exc_info=debugging(logger),
            )
            ok = False
        flight.land(alias, ok, time.monotonic() - started)

    def contexts(self) -> None:
        """Every alias's context, built now (each failure is that alias's only)."""
        for alias in s3_aliases():
            try:
                self.context(alias)
            except Exception as exc:  # that alias's probe fails the same way, and says so
                logger.warning(
                    "healthz: cannot build the client of storage %r: %s",
                    alias,
                    describe(exc),
                    exc_info=debugging(logger),
                )

    def context(self, alias: str) -> ProbeContext:
        """One context, hence one boto3 client, per alias and process, built on first use."""
        with self._context_lock:
            context = self._contexts.get(alias)
            if context is None:
                context = ProbeContext(alias, timeout=self.timeout)
                context.client()
                self._contexts[alias] = context
            return context

    def probe_alias(self, alias: str = "default") -> bool:
        """One probe of ``alias`` now, outside the cache; raises on failure."""
        return self._asker(alias, public_too=alias == s3_aliases()[0])()

    def statistics(self) -> dict[str, AliasStats]:
        """{alias: AliasStats} as of now, a copy."""
        with self._lock:
            return {
                alias: AliasStats(list(s.buckets), s.count, s.total, s.last_success, s.up)
                for alias, s in self.stats.items()
            }

    def forget(self) -> None:
        """Drop the cached answer, the clients and the statistics (the settings changed)."""
        with self._lock:
            self._expires = float("-inf")
            self._flight = None
            self._snapshot = Snapshot()
            self.stats = {}
        with self._context_lock:
            self._contexts = {}


probe = HealthProbe()


def _forget_on_change(*, setting: str, **kwargs: object) -> None:
    if setting in ("R2_TOOLKIT", "STORAGES") or setting.startswith("AWS_"):
        probe.forget()


setting_changed.connect(_forget_on_change)


class ComponentCheck(TypedDict):
    """One entry of a health document's ``checks``: one alias's last probe."""

    componentId: str
    componentType: str
    status: Literal["pass", "fail"]
    observedValue: float  # milliseconds
    observedUnit: str
    time: str


class HealthDocument(TypedDict):
    """application/health+json: the verdict, and ``checks`` when detailed."""

    status: Literal["pass", "warn", "fail"]
    checks: NotRequired[dict[str, list[ComponentCheck]]]


def health_document(snapshot: Snapshot, detailed: bool = False) -> HealthDocument:
    """``snapshot`` in the IETF health-check response format
    (draft-inadarei-api-health-check): the verdict for everyone; with
    ``detailed``, a ``checks`` entry per alias (the probe's time in ms and
    when it ran). No reason, endpoint or bucket: those are in the log and
    behind /debug/r2/."""
    document: HealthDocument = {"status": snapshot.status}
    if detailed:
        document["checks"] = {
            f"storage:{result.alias}": [
                {
                    "componentId": result.alias,
                    "componentType": "datastore",
                    "status": "pass" if result.ok else "fail",
                    "observedValue": round(result.duration * 1000, 1),
                    "observedUnit": "ms",
                    "time": result.iso_time,
                }
            ]
            for result in snapshot.results
        }
    return document
