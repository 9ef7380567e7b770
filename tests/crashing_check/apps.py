"""A check that crashes, with secrets in its exception, for the gunicorn
processes of the status page tests (TEST_CRASHING_CHECK=true): the page must
show it failed, in words, with no traceback and no secret."""

from django.apps import AppConfig

CRASH_ID = "r2.settings.crashes_for_tests"


class CrashingCheckConfig(AppConfig):
    name = "tests.crashing_check"
    label = "crashing_check"

    def ready(self):
        from django.conf import settings

        from r2_toolkit.checks.registry import REGISTRY, check

        if CRASH_ID in REGISTRY:
            return

        @check(
            CRASH_ID,
            kind="network",
            title="A check that crashes",
            catches="Nothing: it raises, to prove a crash reaches no output as a traceback.",
            fix="Nothing to fix: it exists only in the test site.",
        )
        def crashes(ctx):
            try:
                {}["missing"]
            except KeyError as exc:
                raise RuntimeError(
                    f"boom: secret={settings.AWS_SECRET_ACCESS_KEY} key "
                    f"{settings.AWS_ACCESS_KEY_ID} db {settings.DATABASES['default']!r}"
                ) from exc
