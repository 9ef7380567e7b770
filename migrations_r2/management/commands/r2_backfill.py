"""``manage.py r2_backfill``: upload the legacy files the site's file fields
name from MEDIA_ROOT (or ``--source``) to the bucket under those names; with
a record model (``R2_TOOLKIT["IMAGE_MODEL"]``), fill its rows' R2 fields.
A thin shell over ``migrations_r2.engine``; the runbook is docs/backfill.md.

Exit status: 0 every selected row is done, 1 some rows failed (or the run
was interrupted), 2 it could not run.
"""

import sys
from argparse import ArgumentParser
from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandError

from r2_toolkit.core import arguments
from r2_toolkit.core.command import ToolkitCommand
from r2_toolkit.core.compat import raw_stream
from r2_toolkit.migrations_r2.engine import BackfillError, Options, is_record_mode, run_backfill
from r2_toolkit.migrations_r2.report import STATUSES, RewriteResult, Summary, VerifyResult
from r2_toolkit.migrations_r2.selection import Shard


def row_counts(result: Summary | VerifyResult | RewriteResult) -> Mapping[object, float]:
    """A run's rows by status, for --metrics-file and --pushgateway."""
    if isinstance(result, VerifyResult):
        return {"matched": result.rows - result.mismatched, "mismatched": result.mismatched}
    if isinstance(result, RewriteResult):
        return {
            "rewritten": result.rewritten,
            "unchanged": result.unchanged,
            "failed": result.failed,
        }
    return {status: getattr(result, status) for status in STATUSES}


class Command(ToolkitCommand):
    help = (
        "Upload the legacy files the site's file fields name from MEDIA_ROOT to the bucket "
        "under the same names (and fill a record model's R2 fields)."
    )
    requires_system_checks: list[str] = []  # report problems in our own words, exit 2

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the plan (rows, bytes, missing files, time); write nothing",
        )
        parser.add_argument(
            "--batch-size",
            type=arguments.BATCH_SIZE,
            metavar="N",
            help="rows per page and per database write (default 200)",
        )
        parser.add_argument(
            "--workers",
            type=arguments.WORKERS,
            metavar="N",
            help="upload threads (default 16)",
        )
        parser.add_argument("--limit", type=arguments.LIMIT, metavar="N", help="stop after N rows")
        parser.add_argument(
            "--shard",
            type=arguments.checked(Shard.parse),
            metavar="K/N",
            help="take only shard K of N (for parallel runs)",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="re-check migrated rows against the bucket's listing instead of uploading",
        )
        parser.add_argument(
            "--rewrite-urls",
            action="store_true",
            help="recompute public_url where it holds an endpoint or signed URL",
        )
        parser.add_argument("--report", metavar="PATH", help="write one JSON line per row to PATH")
        parser.add_argument(
            "--storage",
            default="default",
            metavar="ALIAS",
            help="the STORAGES alias whose file fields are backfilled (default: default)",
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            dest="fields",
            metavar="APP.MODEL.FIELD",
            help='backfill only this file field (repeatable; default R2_TOOLKIT["FILE_FIELDS"], '
            "else every file field on --storage)",
        )
        parser.add_argument(
            "--list-fields",
            action="store_true",
            help="print the file fields a run would backfill, with their row counts, and exit",
        )
        parser.add_argument(
            "--source",
            metavar="DIR",
            help="the directory holding the legacy files (default MEDIA_ROOT)",
        )
        parser.add_argument(
            "--make-migration",
            metavar="APP_LABEL",
            help="write APP_LABEL/migrations/NNNN_r2_backfill.py (the one-off backfill "
            "as a migration, after the app's latest) and exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["make_migration"]:
            return self.make_migration(options["make_migration"])
        try:
            run = self.options_from(options)
            if options["list_fields"]:
                return self.list_fields(run)
            summary = self.dispatch(run)
        except BackfillError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if summary is None:
            return
        self.record_counts("rows", "status", row_counts(summary))
        self.stdout.flush()
        if summary.exit_code:  # every result type knows its own
            sys.exit(summary.exit_code)

    # The other modes' modules load when asked for: an upload run's start-up
    # is part of every small backfill's time.

    def make_migration(self, app_label: str) -> None:
        from r2_toolkit.migrations_r2 import migration_file

        try:
            path = migration_file.write(app_label)
        except migration_file.MigrationFileError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            f"wrote {path}\n`python manage.py migrate` runs the backfill once; commit the file."
        )

    def list_fields(self, run: Options) -> None:
        from r2_toolkit.migrations_r2.field_mode import field_targets, listed_fields

        self.stdout.write(listed_fields(field_targets(run)))

    def options_from(self, options: dict[str, Any]) -> Options:
        if options["verify"] and options["rewrite_urls"]:
            raise BackfillError(
                "--verify and --rewrite-urls are separate runs; "
                "run --rewrite-urls first, then --verify."
            )
        report = options["report"]
        if report:
            try:
                open(report, "a").close()
            except OSError as exc:
                raise BackfillError(
                    f"cannot write the report to {report!r}: "
                    f"{exc.strerror}; choose a writable path."
                ) from None
        return Options(
            dry_run=options["dry_run"],
            batch_size=options["batch_size"],
            workers=options["workers"],
            limit=options["limit"],
            shard=options["shard"],
            verify=options["verify"],
            rewrite_urls=options["rewrite_urls"],
            report=report,
            storage=options["storage"],
            fields=tuple(options["fields"]),
            source=options["source"],
        )

    def dispatch(self, run: Options) -> Summary | VerifyResult | RewriteResult | None:
        if (run.verify or run.rewrite_urls) and not is_record_mode():
            raise BackfillError(
                f"--{'verify' if run.verify else 'rewrite-urls'} works on a record model's rows "
                'and R2_TOOLKIT["IMAGE_MODEL"] is not set; without a record model run '
                "`python manage.py r2_audit`, which checks every file field against the bucket."
            )
        if run.rewrite_urls:
            from r2_toolkit.migrations_r2.verify import rewrite_urls

            result: RewriteResult | VerifyResult = rewrite_urls(run)
            self.stdout.write(result.text())
            return result
        if run.verify:
            from r2_toolkit.migrations_r2.verify import verify_rows

            result = verify_rows(run, stream=raw_stream(self.stderr))
            self.stdout.write(result.text())
            return result
        if run.dry_run:
            from r2_toolkit.migrations_r2.plan import plan_backfill

            self.stdout.write(plan_backfill(run).text())
            return None
        summary = run_backfill(run, stream=raw_stream(self.stderr))
        self.stdout.write(summary.text())
        return summary
