"""The probe collector's registries: its own for /metrics, and
prometheus_client's default one (what django-prometheus exports) joined once."""

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from r2_toolkit.toolkit import metrics
from r2_toolkit.toolkit.health import probe


def test_the_default_registry_is_joined_once_and_serves_the_probe(moto_bucket):
    probe.forget()
    metrics.join_default_registry()  # True, or False when an earlier test joined it
    assert metrics.join_default_registry() is False  # a second app registry, a reload: no error
    text = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"r2_probe_up", "r2_probe_duration_seconds"} <= names
    assert "process_cpu_seconds_total" in names or "python_info" in names  # the rest stays


def test_the_own_registry_serves_only_the_probe(moto_bucket, settings):
    probe.forget()
    body, content_type = metrics.exposition("text/plain")
    settings.R2_TOOLKIT = {
        **settings.R2_TOOLKIT,
        "HEALTH_TTL": 1,
    }  # settings change: no re-register
    again, _ = metrics.exposition("")
    names = {f.name for f in text_string_to_metric_families(again.decode())}
    assert names == set(metrics.PROBE_FAMILIES)
    assert content_type.startswith("text/plain")
    open_metrics, kind = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert kind.startswith("application/openmetrics-text")
    assert open_metrics.rstrip().endswith(b"# EOF")
