"""GET /metrics: the health probe in Prometheus' exposition format, written by
``prometheus_client`` (the optional extra ``r2-toolkit[metrics]``).

The series come from the probe's cache (toolkit.health), never from a
request of their own: a scrape inside the TTL reads the last answer, one
after it starts the one flight every waiter shares, as /healthz does. So
Prometheus scraping every few seconds from several replicas costs the bucket
at most one probe per TTL per process.

- ``r2_probe_up{alias}``: 1 when the alias answered its last probe, else 0;
- ``r2_probe_duration_seconds{alias}``: a histogram of every probe this
  process made (an abandoned probe counts the whole deadline);
- ``r2_probe_last_success_timestamp_seconds{alias}``: when it last answered
  (absent until it has).

The collector lives in a registry of its own, so the view serves the same
three families whatever else the process registers, and settings reloaded in
one process (tests) never register it twice. Where django-prometheus is
installed, the collector also joins prometheus_client's default registry, the
one django-prometheus's own /metrics exports (toolkit.apps does it once).
"""

import functools
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from r2_toolkit.core.metrics import PIP_LINE, MetricsUnavailable, prometheus
from r2_toolkit.toolkit.health import AliasStats, HealthProbe, Snapshot, probe

if TYPE_CHECKING:  # prometheus_client is an optional extra: loaded by core.metrics.prometheus()
    from prometheus_client.core import Metric
    from prometheus_client.registry import CollectorRegistry

PROBE_FAMILIES = (
    "r2_probe_up",
    "r2_probe_duration_seconds",
    "r2_probe_last_success_timestamp_seconds",
)
_joined = threading.Lock()
_joined_registries: set[int] = set()


class ProbeCollector:
    """A prometheus_client collector over a HealthProbe's cache."""

    def __init__(self, health_probe: HealthProbe) -> None:
        self.probe = health_probe

    def describe(self) -> "list[Metric]":
        # The names only: registering must not start a probe.
        return self.families(Snapshot(), {})

    def collect(self) -> "list[Metric]":
        return self.families(self.probe.status(), self.probe.statistics())

    def families(self, snapshot: Snapshot, stats: Mapping[str, AliasStats]) -> "list[Metric]":
        core = prometheus().core
        up = core.GaugeMetricFamily(
            PROBE_FAMILIES[0],
            "Whether the storage alias answered its last health probe (1) or not (0).",
            labels=["alias"],
        )
        duration = core.HistogramMetricFamily(
            PROBE_FAMILIES[1],
            "How long the storage alias's health probes took, in seconds.",
            labels=["alias"],
        )
        last = core.GaugeMetricFamily(
            PROBE_FAMILIES[2],
            "When the storage alias last answered its health probe, Unix time.",
            labels=["alias"],
        )
        for result in snapshot.results:
            up.add_metric([result.alias], 1.0 if result.ok else 0.0)
            seen = stats.get(result.alias)
            if seen is None:
                continue
            duration.add_metric([result.alias], seen.cumulative(), seen.total)
            if seen.last_success is not None:
                last.add_metric([result.alias], seen.last_success)
        return [up, duration, last]


@functools.cache
def registry() -> "CollectorRegistry":
    """The toolkit's own CollectorRegistry, holding the probe collector."""
    client = prometheus()
    own = client.CollectorRegistry(auto_describe=True)
    own.register(ProbeCollector(probe))
    return own


def exposition(accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of a scrape, in the format ``accept`` asks for
    (Prometheus' text format unless it asks for OpenMetrics)."""
    client = prometheus()
    encoder, content_type = client.exposition.choose_encoder(accept or "")
    return encoder(registry()), content_type


def join_default_registry() -> bool:
    """Register the probe collector with prometheus_client's default registry
    (django-prometheus exports it), once per process; False when it was
    already there."""
    client = prometheus()
    with _joined:
        if id(client.REGISTRY) in _joined_registries:
            return False
        client.REGISTRY.register(ProbeCollector(probe))
        _joined_registries.add(id(client.REGISTRY))
        return True


__all__ = ["PIP_LINE", "MetricsUnavailable", "exposition", "join_default_registry", "registry"]
