#!/usr/bin/env python
"""Django's command-line utility; defaults to the embedded `settings.local`."""

import os
import sys


def settings_module(argv):
    """The module named by --settings, as Django itself would read it."""
    for index, arg in enumerate(argv):
        if arg.startswith("--settings="):
            return arg.split("=", 1)[1]
        if arg == "--settings" and index + 1 < len(argv):
            return argv[index + 1]
    return os.environ.get("DJANGO_SETTINGS_MODULE", "settings.local")


def load_settings_or_exit(module):
    """Import the settings now, so a broken module is one sentence and exit 2
    instead of Django's 'Unknown command' or a traceback."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the import
    except ModuleNotFoundError as exc:
        sys.exit(
            _fail(
                f"settings module {module!r} could not be imported ({exc}); "
                "check DJANGO_SETTINGS_MODULE or --settings."
            )
        )
    except (ImproperlyConfigured, ValueError) as exc:
        sys.exit(_fail(str(exc)))


def _fail(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def main():
    module = settings_module(sys.argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    load_settings_or_exit(module)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
