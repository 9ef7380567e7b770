"""``manage.py r2_audit``: the database and the bucket reconciled both ways,
by listing. A thin shell over ``migrations_r2.audit``; the runbook is
docs/audit.md.

Exit status: 0 no finding but legacy rows, 1 findings (or interrupted),
2 it could not run. ``--restore`` / ``--restore-all`` / ``--purge-quarantine``
work on the quarantine instead of auditing: 0 all done, 1 something not
(a conflict, a key not in the quarantine), 2 it could not run.
"""

import json
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from r2_toolkit.core import arguments
from r2_toolkit.core.command import ToolkitCommand
from r2_toolkit.core.compat import raw_stream
from r2_toolkit.migrations_r2.audit import (
    AuditError,
    AuditOptions,
    run_audit,
    run_purge,
    run_restore,
)
from r2_toolkit.migrations_r2.audit_report import (
    AuditProgress,
    FindingsFile,
    render_json,
    render_quarantine,
    render_text,
)
from r2_toolkit.migrations_r2.findings import KINDS


class Command(ToolkitCommand):
    help = "Reconcile the database with the bucket: missing, changed and orphaned objects."
    requires_system_checks: list[str] = []  # report problems in our own words, exit 2

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument(
            "--report", metavar="PATH", help="write one JSON line per finding to PATH"
        )
        parser.add_argument(
            "--storage",
            metavar="ALIAS",
            help="the STORAGES alias to audit (default: the first S3 one, default first)",
        )
        parser.add_argument(
            "--grace",
            type=arguments.GRACE,
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
            help="say which orphans would be moved to the quarantine; with --yes, move them",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="confirm --delete-orphans (move) or --purge-quarantine (delete for good)",
        )
        parser.add_argument(
            "--restore",
            nargs="+",
            metavar="KEY",
            help="move these quarantined objects back (original or quarantined keys)",
        )
        parser.add_argument(
            "--restore-all", action="store_true", help="move every quarantined object back"
        )
        parser.add_argument(
            "--purge-quarantine",
            action="store_true",
            help="say which quarantined objects are older than --older-than; with --yes, "
            "delete them for good",
        )
        parser.add_argument("--older-than", type=arguments.DAYS, metavar="DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        mode = quarantine_mode(options)
        if mode is not None:
            return self.quarantine(mode, options)
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

    def quarantine(self, mode: str, options: dict[str, Any]) -> None:
        report = FindingsFile(self.writable(options["report"]))
        try:
            if mode == "purge":
                result = run_purge(
                    options["older_than"],
                    options["yes"],
                    alias=options["storage"],
                    on_move=report.write,
                )
            else:
                keys = None if mode == "restore_all" else options["restore"]
                result = run_restore(keys, alias=options["storage"], on_move=report.write)
        except AuditError as exc:
            raise CommandError(str(exc), returncode=2) from None
        finally:
            report.close()
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.document(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(render_quarantine(result, options["report"]))
        self.stdout.flush()
        if result.exit_code:
            sys.exit(result.exit_code)

    def writable(self, path: str | None) -> str | None:
        if path:
            try:
                open(path, "a").close()
            except OSError as exc:
                raise CommandError(
                    f"cannot write the report to {path!r}: {exc.strerror}; choose a writable path.",
                    returncode=2,
                ) from None
        return path


def quarantine_mode(options: dict[str, Any]) -> str | None:
    """ "restore", "restore_all", "purge" or None (an audit); CommandError
    (exit 2) for flags that do not go together."""
    chosen = [
        name
        for name, flag in (
            ("restore", options["restore"] is not None),
            ("restore_all", options["restore_all"]),
            ("purge", options["purge_quarantine"]),
        )
        if flag
    ]
    if len(chosen) > 1 or (chosen and options["delete_orphans"]):
        raise CommandError(
            "--restore, --restore-all, --purge-quarantine and --delete-orphans each run alone; "
            "choose one.",
            returncode=2,
        )
    if (options["older_than"] is None) != (chosen != ["purge"]):
        raise CommandError(
            "--purge-quarantine needs --older-than DAYS (and --older-than goes with "
            "--purge-quarantine only).",
            returncode=2,
        )
    if chosen and chosen != ["purge"] and options["yes"]:
        raise CommandError(
            "--yes confirms --delete-orphans or --purge-quarantine; drop it from a restore.",
            returncode=2,
        )
    return chosen[0] if chosen else None
