"""``manage.py r2_audit``: the database and the bucket reconciled both ways,
by listing. A thin shell over ``migrations_r2.audit``; the runbook is
docs/audit.md.

Exit status: 0 no finding but legacy rows, 1 findings (or interrupted),
2 it could not run.
"""

import argparse
import sys

from django.core.management.base import CommandError

from r2_toolkit.migrations_r2.audit import AuditError, AuditOptions, run_audit
from r2_toolkit.migrations_r2.audit_report import (
    AuditProgress,
    FindingsFile,
    render_json,
    render_text,
)
from r2_toolkit.migrations_r2.findings import KINDS
from r2_toolkit.toolkit.core.command import ToolkitCommand
from r2_toolkit.toolkit.core.compat import raw_stream


def seconds(value):
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), not {value!r}")
    return number


class Command(ToolkitCommand):
    help = "Reconcile the database with the bucket: missing, changed and orphaned objects."
    requires_system_checks = []  # report problems in our own words, exit 2

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument(
            "--report", default=None, metavar="PATH", help="write one JSON line per finding to PATH"
        )
        parser.add_argument(
            "--storage",
            default=None,
            metavar="ALIAS",
            help="the STORAGES alias to audit (default: the first S3 one, default first)",
        )
        parser.add_argument(
            "--grace",
            type=seconds,
            default=86400.0,
            metavar="SECONDS",
            help="unreferenced objects younger than this are not orphans (default 86400)",
        )
        parser.add_argument(
            "--metadata",
            action="store_true",
            help="also HEAD every row's object for Content-Type and Cache-Control",
        )
        parser.add_argument(
            "--delete-orphans",
            action="store_true",
            help="say which orphans would be deleted; with --yes, delete them",
        )
        parser.add_argument(
            "--yes", action="store_true", help="confirm --delete-orphans: really delete"
        )

    def handle(self, *args, **options):
        report = FindingsFile(self.writable(options["report"]))
        stderr = raw_stream(self.stderr)
        try:
            run = AuditOptions(
                alias=options["storage"],
                grace=options["grace"],
                metadata=options["metadata"],
                delete_orphans=options["delete_orphans"],
                yes=options["yes"],
            )
            result = run_audit(run, on_finding=report.write, progress=AuditProgress(stderr))
        except AuditError as exc:
            raise CommandError(str(exc), returncode=2) from None
        finally:
            report.close()
        self.record_counts("findings", "kind", {kind: result.counts[kind] for kind in KINDS})
        if options["format"] == "json":
            self.stdout.write(render_json(result))
        else:
            self.stdout.write(render_text(result, options["report"]))
        self.stdout.flush()
        if result.exit_code:
            sys.exit(result.exit_code)

    def writable(self, path):
        if path:
            try:
                open(path, "a").close()
            except OSError as exc:
                raise CommandError(
                    f"cannot write the report to {path!r}: {exc.strerror}; choose a writable path.",
                    returncode=2,
                ) from None
        return path
