"""``manage.py r2_check``: the deploy-pipeline gate.

Exit status: 0 no check failed, 1 a check failed, 2 the run could not start.
"""

import sys
import traceback
from argparse import ArgumentParser
from collections.abc import Container, Iterable, Sequence
from typing import Any

from django.core.management.base import CommandError

from r2_toolkit import checks  # noqa: F401  (registers every check)
from r2_toolkit.checks.registry import GROUPS, REGISTRY, Result, select
from r2_toolkit.checks.runner import run_checks, summarize
from r2_toolkit.core import arguments
from r2_toolkit.core.command import ToolkitCommand
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.redact import scrub
from r2_toolkit.core.storage import StorageAliasError, chosen_s3_alias, s3_aliases
from r2_toolkit.toolkit.report import RENDERERS
from r2_toolkit.toolkit.report_ci import append_step_summary

SKIPPED_REASON = "Skipped by r2_check --skip."


def csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def known(values: list[str], allowed: Container[str], what: str, help_text: str) -> list[str]:
    """``values`` when every one is in ``allowed``; else exit 2 naming the others."""
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise CommandError(f"unknown {what} {', '.join(unknown)}; {help_text}.", returncode=2)
    return values


class Command(ToolkitCommand):
    help = "Verify storage settings, bucket CORS, image schema and a real round-trip upload."
    requires_system_checks: list[str] = []  # the gate reports problems itself, in its own format

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
        parser.add_argument(
            "--only", type=csv, default=[], metavar="ID[,ID...]", help="run only these check ids"
        )
        parser.add_argument(
            "--skip",
            type=csv,
            default=[],
            metavar="GROUP|ID[,...]",
            help=f"skip these groups ({', '.join(GROUPS)}) or check ids; skipped ids are "
            "reported as skip",
        )
        parser.add_argument("--fail-on", choices=["error", "warning"], default="error")
        parser.add_argument(
            "--timeout",
            type=arguments.TIMEOUT,
            help="overall deadline in seconds, 0.1 to 86400 (default R2_TOOLKIT CHECK_TIMEOUT)",
        )
        parser.add_argument("--storage", metavar="ALIAS", help="check only this STORAGES alias")
        parser.add_argument("--list", action="store_true", help="list the checks and exit")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="leave the round-trip probe object in the bucket, for debugging",
        )
        parser.add_argument(
            "--verbose-details", action="store_true", help="text format: print each check's details"
        )

    def handle(self, *args: str, **options: Any) -> None:
        if options["list"]:
            for check in select():
                self.stdout.write(f"{check.id:40} {check.title}")
            return
        skip = self.validated_skip(options["skip"])
        groups = [item for item in skip if item in GROUPS]
        skipped = {item: SKIPPED_REASON for item in skip if item not in GROUPS}
        chosen = select(self.validated_only(options["only"]), groups)
        timeout = options["timeout"]
        if timeout is None:
            timeout = toolkit_settings.CHECK_TIMEOUT
        results = run_checks(
            chosen,
            aliases=self.aliases(options["storage"]),
            timeout=timeout,
            keep=options["keep"],
            skipped=skipped,
        )
        self.record_counts("checks", "status", summarize(results)["summary"])
        render = RENDERERS[options["format"]]
        kwargs = {"verbose": options["verbose_details"]} if options["format"] == "text" else {}
        self.stdout.write(render(results, options["fail_on"], **kwargs))
        self.stdout.flush()
        if options["format"] == "github":
            self.append_step_summary(results, options["fail_on"])
        if options["verbosity"] >= 3 or options["traceback"]:
            self.print_tracebacks(results)
        if not summarize(results, options["fail_on"])["ok"]:
            sys.exit(1)

    def append_step_summary(self, results: Sequence[Result], fail_on: str) -> None:
        """The Markdown table into $GITHUB_STEP_SUMMARY; a file that cannot be
        written is a warning: the annotations are out, the verdict stands."""
        try:
            append_step_summary(results, fail_on)
        except OSError as exc:
            self.stderr.write(
                f"warning: could not append the job summary to $GITHUB_STEP_SUMMARY: "
                f"{exc.strerror or exc}."
            )

    def print_tracebacks(self, results: Iterable[Result]) -> None:
        """For maintainers: the traceback of every check that crashed, redacted,
        on stderr (stdout stays one document in every format)."""
        for result in results:
            if result.exception is not None:
                trace = "".join(traceback.format_exception(result.exception))
                self.stderr.write(f"--- {result.id} crashed:\n{scrub(trace)}")

    def validated_only(self, only: list[str]) -> list[str]:
        return known(only, REGISTRY, "check id", "`r2_check --list` shows them all")

    def validated_skip(self, skip: list[str]) -> list[str]:
        return known(
            skip,
            {*GROUPS, *REGISTRY},
            "group or check id",
            f"the groups are {', '.join(GROUPS)}; `r2_check --list` shows the check ids",
        )

    def aliases(self, alias: str | None) -> list[str]:
        """Every S3 alias, or the one ``--storage`` names; exit 2 otherwise."""
        if alias is None:
            return s3_aliases()
        try:
            return [chosen_s3_alias(alias)]
        except StorageAliasError as exc:
            raise CommandError(f"--storage is not an S3 alias: {exc}", returncode=2) from None
