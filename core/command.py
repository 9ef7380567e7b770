"""What the toolkit's management commands share as command-line programs:
a quick exit, and ``--metrics-file`` / ``--pushgateway`` (core.metrics)."""

import gc
from collections.abc import Mapping
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from r2_toolkit.core import metrics


class ToolkitCommand(BaseCommand):  # type: ignore[misc]  # Django ships no annotations
    """A BaseCommand that reports its runs to Prometheus when asked, and
    leaves the process quickly when it is the process.

    Subclasses hand their counts to :meth:`record_counts`; the base times the
    run, sees its exit status (a return, ``sys.exit(n)`` or a CommandError)
    and writes or pushes the metrics once the command is done."""

    _job_run: metrics.JobRun | None = None

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        group = parser.add_argument_group("monitoring")
        group.add_argument(
            "--metrics-file",
            default=None,
            metavar="PATH",
            help="write the run's Prometheus metrics to PATH (node_exporter's textfile "
            "collector format, e.g. /var/lib/node_exporter/textfile/r2_backfill.prom)",
        )
        group.add_argument(
            "--pushgateway",
            default=None,
            metavar="URL",
            help="push the run's Prometheus metrics to this Pushgateway (grouping job=<command>)",
        )
        return parser

    @property
    def job_name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]

    def record_counts(self, name: str, label: str, values: Mapping[object, float]) -> None:
        """The run's counts for the metrics: ``name`` is checks, rows or
        findings, ``values`` {label value: n}. A no-op without a metrics flag."""
        if self._job_run is not None:
            self._job_run.count(name, label, values)

    def execute(self, *args: Any, **options: Any) -> Any:
        run = self.job_run(options.get("metrics_file"), options.get("pushgateway"))
        if run is None:
            return super().execute(*args, **options)
        exit_code: int = 1
        self._job_run = run
        try:
            output = super().execute(*args, **options)
            exit_code = 0
            return output
        except SystemExit as exc:
            exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            raise
        except CommandError as exc:
            exit_code = exc.returncode
            raise
        finally:
            self._job_run = None
            for problem in run.finish(exit_code):
                self.stderr.write(f"warning: {problem}")

    def job_run(self, metrics_file: str | None, pushgateway: str | None) -> metrics.JobRun | None:
        """A JobRun for the flags given, or None; exit 2 for flags that cannot work."""
        if not metrics_file and not pushgateway:
            return None
        flag = "--metrics-file" if metrics_file else "--pushgateway"
        try:
            metrics.prometheus(flag)
        except metrics.MetricsUnavailable as exc:
            raise CommandError(f"{exc}.", returncode=2) from None
        refusal = (metrics_file and metrics.check_textfile_path(metrics_file)) or (
            pushgateway and metrics.check_gateway_url(pushgateway)
        )
        if refusal:
            raise CommandError(refusal, returncode=2)
        return metrics.JobRun(self.job_name, metrics_file, pushgateway)

    def run_from_argv(self, argv: list[str]) -> None:
        """``run_from_argv`` is the command-line path only (``manage.py NAME``;
        ``call_command`` never takes it), and the process ends as soon as it
        returns. Freezing the heap then spares the interpreter's final garbage
        collection a walk over every object Django made: 60 ms of a Django
        process's exit on the reference project, a tenth of a small backfill's
        fixed cost. In-process callers (migrations, tests) are left alone."""
        try:
            super().run_from_argv(argv)
        finally:
            gc.freeze()
