"""Prometheus metrics of the batch commands (``r2_check``, ``r2_backfill``,
``r2_audit``): ``--metrics-file PATH`` and ``--pushgateway URL``.

Every run, successful or not, records

- ``r2_job_last_run_timestamp_seconds{job}``: when it ended, Unix time;
- ``r2_job_last_success_timestamp_seconds{job}``: when it last ended with exit
  status 0; a run that exits non-zero keeps the previous value (read back from
  the existing textfile; on the Pushgateway, a failed run's push leaves the
  gateway's value in place), so "last success older than a day" pages someone
  however many failed runs came since;
- ``r2_job_duration_seconds{job}``, ``r2_job_exit_code{job}``;
- its counts as labelled series: ``r2_job_checks{job,status}``,
  ``r2_job_rows{job,status}``, ``r2_job_findings{job,kind}``.

The textfile (node_exporter's textfile collector) is written by
``prometheus_client.write_to_textfile`` to a staging name beside it (one the
collector does not read: it reads ``*.prom`` only), made world-readable so a
node_exporter running as another user reads it, and renamed over the target:
no reader ever sees a partial file. No sample carries a timestamp.

The Pushgateway gets the same families grouped under ``job=<command>``; the
series carry no ``job`` label of their own there (the grouping key is the
label, and the Pushgateway refuses a pushed label that repeats it).

A path whose directory cannot be written is refused before the job starts
(exit 2, nothing done). A write or push that fails after the job ran is one
warning on stderr and the job's own exit status stands: the work is done, and
the missing fresh ``last_success`` is what alerts.
"""

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from r2_toolkit.core.redact import redact_url, scrub

PIP_LINE = "pip install 'r2-toolkit[metrics]'"
PUSH_TIMEOUT = 10.0
COUNT_FAMILIES = {
    "checks": "Checks of the job's last run, by status.",
    "rows": "Rows of the job's last run, by status.",
    "findings": "Findings of the job's last run, by kind.",
}
LAST_SUCCESS = "r2_job_last_success_timestamp_seconds"


class MetricsUnavailable(Exception):
    """prometheus_client is not installed; the message names the pip line."""


class MetricsDeliveryError(Exception):
    """The metrics could not be written or pushed; the message is one sentence."""


def prometheus(what: str = "/metrics") -> Any:
    """The prometheus_client package with the submodules the toolkit uses."""
    try:
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.exposition
        import prometheus_client.parser
    except ImportError:
        raise MetricsUnavailable(
            f"{what} needs prometheus_client, which is not installed: {PIP_LINE}"
        ) from None
    return prometheus_client


def check_textfile_path(path: str) -> str | None:
    """Refuse a --metrics-file PATH that cannot be written, before the job runs."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        return f"--metrics-file {path!r} is a directory; name a file such as r2_backfill.prom."
    if not os.path.isdir(directory):
        return f"--metrics-file {path!r}: the directory {directory!r} does not exist; create it."
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"--metrics-file {path!r}: the directory {directory!r} is not writable by this user; "
            "choose a writable path."
        )
    return None


def check_gateway_url(url: str) -> str | None:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"--pushgateway {redact_url(url)!r} is not an http(s) URL; "
            "give it like http://pushgateway:9091."
        )
    return None


@dataclass
class JobRun:
    """One run of a batch command, timed from creation, with its counts."""

    job: str
    metrics_file: str | None = None
    pushgateway: str | None = None
    clock: Callable[[], float] = time.time
    # family suffix -> (label name, {label value: n})
    counts: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def count(self, name: str, label: str, values: Mapping[Any, float]) -> None:
        """Record the run's counts of ``name`` (a COUNT_FAMILIES key) by ``label``."""
        if name not in COUNT_FAMILIES:
            raise ValueError(f"unknown count family {name!r}")
        self.counts[name] = (label, {str(k): float(v) for k, v in dict(values).items()})

    def finish(self, exit_code: int) -> list[str]:
        """Write and push the metrics; the sentences of what could not be delivered."""
        ended = self.clock()
        problems: list[str] = []
        if self.metrics_file:
            previous = previous_success(self.metrics_file, self.job)
            success = ended if exit_code == 0 else previous
            try:
                write_textfile(
                    self.metrics_file, self.registry(ended, exit_code, success, job_label=True)
                )
            except OSError as exc:
                problems.append(
                    f"could not write the metrics to {self.metrics_file!r}: "
                    f"{exc.strerror or exc}; the job's own result is unchanged."
                )
        if self.pushgateway:
            success = ended if exit_code == 0 else None
            try:
                push(self.pushgateway, self.job, self.registry(ended, exit_code, success), success)
            except Exception as exc:  # urllib's URLError, HTTPError, OSError, ValueError
                problems.append(
                    f"could not push the metrics to the Pushgateway at "
                    f"{redact_url(self.pushgateway)}: {reason(exc)}; "
                    "the job's own result is unchanged."
                )
        return problems

    def registry(
        self, ended: float, exit_code: int, success: float | None, job_label: bool = False
    ) -> Any:
        """A CollectorRegistry of this run's families (with a ``job`` label
        on every series only for the textfile)."""
        client = prometheus()
        core = client.core
        own = client.CollectorRegistry(auto_describe=False)
        base = {"job": self.job} if job_label else {}
        families: list[Any] = []

        def gauge(name: str, documentation: str, value: float, **labels: str) -> Any:
            every = {**base, **labels}
            family = core.GaugeMetricFamily(name, documentation, labels=list(every))
            family.add_metric(list(every.values()), value)
            families.append(family)
            return family

        gauge("r2_job_last_run_timestamp_seconds", "When the job last ended, Unix time.", ended)
        if success is not None:
            gauge(LAST_SUCCESS, "When the job last ended with exit status 0, Unix time.", success)
        gauge("r2_job_duration_seconds", "How long the job's last run took.", ended - self.started)
        gauge("r2_job_exit_code", "The exit status of the job's last run.", float(exit_code))
        for name, (label, values) in self.counts.items():
            family = core.GaugeMetricFamily(
                f"r2_job_{name}", COUNT_FAMILIES[name], labels=[*base, label]
            )
            for value, n in sorted(values.items()):
                family.add_metric([*base.values(), value], n)
            families.append(family)
        own.register(_Fixed(families))
        return own


class _Fixed:
    """A collector that yields families built beforehand."""

    def __init__(self, families: Iterable[Any]) -> None:
        self._families = families

    def collect(self) -> list[Any]:
        return list(self._families)


def previous_success(path: str, job: str) -> float | None:
    """``job``'s last-success timestamp in the existing textfile, else None."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        for family in prometheus().parser.text_string_to_metric_families(text):
            if family.name == LAST_SUCCESS:
                for sample in family.samples:
                    if sample.labels.get("job") == job:
                        value: float = sample.value
                        return value
    except Exception:  # not a textfile of ours: start over
        return None
    return None


def write_textfile(path: str, registry: Any) -> None:
    """Replace ``path`` atomically with ``registry``'s families, mode 0644."""
    staging = f"{path}.{os.getpid()}.staging"
    prometheus().write_to_textfile(staging, registry)
    try:
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except OSError:
        if os.path.exists(staging):
            os.remove(staging)
        raise


def push(url: str, job: str, registry: Any, success: float | None) -> None:
    """PUT the run's families to the Pushgateway (replacing the group's) after
    a success; after a failure POST them, which replaces only the families
    pushed, so the gateway keeps the last success it already holds."""
    client = prometheus()
    send = client.push_to_gateway if success is not None else client.pushadd_to_gateway
    send(url, job=job, registry=registry, timeout=PUSH_TIMEOUT)


def reason(exc: BaseException) -> str:
    found = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return scrub(str(found).rstrip(".")) or type(exc).__name__
