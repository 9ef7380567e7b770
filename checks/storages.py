"""Checks of the 'storages' group: is Django wired to the S3 backend at all?

Each fault here comes from the seed application's migration to R2: files that
silently landed on local disk, a missing app, and a storage instance built
before the settings it needed.
"""

import difflib
from collections.abc import Callable
from functools import partial
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.options import (
    assignment,
    backend_class,
    configured,
    default_options,
    dotted,
    literal,
    sentence,
    storage_options,
)
from r2_toolkit.checks.registry import Outcome, check, fail, ok, skip, warn
from r2_toolkit.core.compat import built_default_storage, built_storage, installed_version
from r2_toolkit.core.errors import describe
from r2_toolkit.core.files import open_storage
from r2_toolkit.core.redact import redact
from r2_toolkit.core.storage import S3_BACKEND, is_s3_backend, s3_aliases

S3_DEFAULT_HINT = f'STORAGES["default"] = {{"BACKEND": "{S3_BACKEND}"}}'
STATICFILES_HINT = (
    'STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}'
)
# Settings Django 5.1 removed: still set, they are ignored without a word.
LEGACY_SETTINGS = {"DEFAULT_FILE_STORAGE": "default", "STATICFILES_STORAGE": "staticfiles"}
# What must agree between the instance the app holds and a fresh build;
# never the keys, whose values must not be compared into a message.
COMPARED = (
    "bucket_name",
    "endpoint_url",
    "region_name",
    "custom_domain",
    "url_protocol",
    "location",
    "querystring_auth",
    "querystring_expire",
    "default_acl",
    "object_parameters",
    "signature_version",
    "addressing_style",
    "file_overwrite",
)


@check(
    "r2.storages.default_backend",
    per_storage=False,
    fix=f"Set {S3_DEFAULT_HINT} (and its OPTIONS or AWS_* settings).",
)
def default_backend(ctx: CheckContext) -> Outcome:
    """STORAGES['default'] is an S3 backend.

    Catches: Uploads written to local disk because the default storage is not S3.
    """
    config = settings.STORAGES.get("default")
    if not config:
        return fail("STORAGES has no 'default' alias, so uploads have no storage.", S3_DEFAULT_HINT)
    path = config.get("BACKEND", "")
    try:
        backend_class("default")
    except ImportError as exc:
        return fail(
            f"STORAGES['default'] names a backend that cannot be imported: {path!r} "
            f"({describe(exc)}).",
            f"Install django-storages[s3] and set {S3_DEFAULT_HINT}.",
            backend=path,
        )
    if not is_s3_backend(path):
        return fail(
            f"STORAGES['default'] is {path}, not S3: uploads are written to this "
            "server's disk, not to the bucket.",
            S3_DEFAULT_HINT,
            backend=path,
        )
    return ok(f"STORAGES['default'] is {path}.", backend=path)


@check("r2.storages.legacy_setting", per_storage=False)
def legacy_setting(ctx: CheckContext) -> Outcome:
    """No leftover DEFAULT_FILE_STORAGE / STATICFILES_STORAGE.

    Catches: A DEFAULT_FILE_STORAGE that Django 5.1+ silently ignores, so files land on local
    disk.

    Fix: Delete DEFAULT_FILE_STORAGE (and STATICFILES_STORAGE) and put the backend in
    STORAGES['default'] (and STORAGES['staticfiles']).
    """
    # Django 5.1 removed these settings, so they are only visible as
    # explicitly set names, never as defaults.
    leftover = [
        name for name in LEGACY_SETTINGS if settings.is_overridden(name) and hasattr(settings, name)
    ]
    if not leftover:
        return ok("Storage is configured through STORAGES only.")
    hints = [
        f'delete {name} and set STORAGES["{LEGACY_SETTINGS[name]}"] = '
        f'{{"BACKEND": {literal(getattr(settings, name, ""))}}}'
        for name in leftover
    ]
    if django.VERSION >= (5, 1):
        consequence = (
            f"Django {django.get_version()} ignores {' and '.join(leftover)}: "
            "storage comes from STORAGES alone"
        )
    else:
        consequence = (
            f"{' and '.join(leftover)} is deprecated since Django 4.2 and ignored from 5.1 on"
        )
    return fail(
        f"{', '.join(leftover)} is still set. {consequence}, so files can silently "
        "land on local disk.",
        sentence("; ".join(hints)),
        settings=leftover,
    )


@check("r2.storages.installed_app", per_storage=False)
def installed_app(ctx: CheckContext) -> Outcome:
    """'storages' is in INSTALLED_APPS.

    Catches: django-storages missing from INSTALLED_APPS.

    Fix: Add "storages" to INSTALLED_APPS.
    """
    if any(app == "storages" or app.startswith("storages.") for app in settings.INSTALLED_APPS):
        return ok("'storages' is in INSTALLED_APPS.")
    return fail(
        "'storages' is not in INSTALLED_APPS.",
        'Add "storages" to INSTALLED_APPS (pip install "django-storages[s3]").',
    )


@check("r2.storages.staticfiles_alias", per_storage=False, fix=f"Add {STATICFILES_HINT}.")
def staticfiles_alias(ctx: CheckContext) -> Outcome:
    """STORAGES has a 'staticfiles' alias.

    Catches: A STORAGES dict without 'staticfiles', which breaks collectstatic and {% static %}.
    """
    if "staticfiles" in settings.STORAGES:
        return ok("STORAGES has a 'staticfiles' alias.")
    if "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        return skip("django.contrib.staticfiles is not installed.")
    return fail(
        "STORAGES has no 'staticfiles' alias: collectstatic and {% static %} fail "
        "with \"Could not find config for 'staticfiles'\".",
        STATICFILES_HINT,
    )


@check("r2.storages.options")
def options(ctx: CheckContext) -> Outcome:
    """The storage's OPTIONS are valid.

    Catches: Unknown or conflicting OPTIONS keys that stop the storage from being built.

    Fix: Fix or remove the key the message names; OPTIONS keys are django-storages' lower-case
    option names (region_name, not AWS_S3_REGION_NAME).
    """
    try:
        storage = ctx.storage()
    except ImproperlyConfigured as exc:
        return fail(*explain_improperly_configured(ctx.alias, exc))
    return ok(f"STORAGES[{ctx.alias!r}] builds its storage ({type(storage).__name__}).")


def explain_improperly_configured(alias: str | None, exc: Exception) -> tuple[str, str]:
    """(message, hint) for the ImproperlyConfigured a storage raised. The
    key it refused is found by comparing OPTIONS with the options the backend
    knows, as django-storages itself does (the first unknown one), not read
    back out of its message."""
    backend = backend_class(alias)
    known = sorted(default_options(backend))
    unknown = [key for key in storage_options(alias) if key not in known]
    if not unknown:
        return (
            f"STORAGES[{alias!r}] cannot be built: {describe(exc)}",
            "Fix the option the message names.",
        )
    key = unknown[0]
    guess = difflib.get_close_matches(
        key.lower().removeprefix("aws_").removeprefix("s3_"), known, n=1, cutoff=0.6
    )
    hint = f'Remove "{key}" from STORAGES["{alias}"]["OPTIONS"]'
    hint += f'; did you mean "{guess[0]}"?' if guess else "."
    return (
        f"STORAGES[{alias!r}]['OPTIONS'] has a key {backend.__name__} does not know: {key!r}.",
        hint,
    )


@check("r2.storages.cached_instance")
def cached_instance(ctx: CheckContext) -> Outcome:
    """The storage the app holds matches the settings.

    Catches: A default_storage built before the settings were complete (the 'cached before
    settings' bug).

    Fix: Do not touch default_storage or storages[...] while settings are loading (at import
    time of settings, apps or models); look it up when needed.
    """
    held = held_instances(ctx.alias)
    if not held:
        return skip(f"The app has not built STORAGES[{ctx.alias!r}] yet; nothing is cached.")
    try:
        fresh = ctx.storage()
    except ImproperlyConfigured:
        return skip("The storage cannot be built from the settings; see r2.storages.options.")
    differences: dict[str, tuple[object, object]] = {}
    for where, instance in held.items():
        if type(instance) is not type(fresh):
            differences[f"{where} class"] = (type(instance).__name__, type(fresh).__name__)
            continue
        for name in COMPARED:
            then, now = getattr(instance, name, None), getattr(fresh, name, None)
            if then != now:
                differences[f"{where}.{name}"] = (then, now)
    if not differences:
        return ok(f"{' and '.join(held)} match{'es' if len(held) == 1 else ''} the settings.")
    shown = "; ".join(
        f"{name} is {redact(then)!r} but the settings say {redact(now)!r}"
        for name, (then, now) in differences.items()
    )
    return fail(
        f"The storage instance the app holds was built before the settings it needs: {shown}.",
        "Find the code that uses default_storage or storages[...] at import time "
        "(settings, an app's __init__, models) and move it into the function that "
        "needs it; restart the process after changing storage settings.",
        differences={k: [redact(a), redact(b)] for k, (a, b) in differences.items()},
    )


def held_instances(alias: str | None) -> dict[str, Any]:
    """Storage instances the process has already built for ``alias``."""
    held: dict[str, Any] = {}
    built = built_storage(alias)
    if built is not None:
        held[f"storages[{alias!r}]"] = built
    if alias == "default":
        wrapped = built_default_storage()
        if wrapped is not None and wrapped is not built:
            held["default_storage"] = wrapped
    return held


# --- django-storages' own behaviour ------------------------------------------
OVERWRITE_SOURCE = (
    "jschneier/django-storages issue 77 (and 959); storages/backends/s3.py "
    "get_default_settings: file_overwrite defaults to True"
)


def overwrites(alias: str | None, build: Callable[[], Any]) -> bool:
    """Whether ``alias``'s storage overwrites a file of the same name: the view of
    the instance ``build()`` makes (a subclass may set ``file_overwrite`` itself),
    else the settings'."""
    try:
        return bool(build().file_overwrite)
    except Exception:  # r2.storages.options reports a storage that cannot be built
        return bool(configured(alias, "file_overwrite"))


@check("r2.storages.file_overwrite", source=OVERWRITE_SOURCE)
def file_overwrite(ctx: CheckContext) -> Outcome:
    """Uploads never replace another file of the same name.

    Catches: AWS_S3_FILE_OVERWRITE left at django-storages' default (True): a second upload
    named photo.jpg silently replaces another user's image.

    Fix: Set AWS_S3_FILE_OVERWRITE = False (or OPTIONS['file_overwrite'] = False), so
    django-storages gives a clashing name a suffix instead of overwriting.
    """
    if not overwrites(ctx.alias, ctx.storage):
        return ok("A clashing upload gets a new name; nothing is overwritten.")
    if ctx.alias == "staticfiles":
        return ok("STORAGES['staticfiles'] overwrites, as collectstatic needs.")
    fix = assignment(ctx.alias, "file_overwrite", False)
    if configured(ctx.alias, "file_overwrite") is False:
        fix = (
            f"Set file_overwrite = False on {type(ctx.storage()).__name__} (the class sets "
            f"it to True; the settings already say {fix})"
        )
    outcome = fail if ctx.alias == "default" else warn
    return outcome(
        f"STORAGES[{ctx.alias!r}] overwrites files of the same name (file_overwrite is True, "
        "django-storages' default): a second upload named photo.jpg silently replaces "
        "another user's image.",
        sentence(fix),
        file_overwrite=True,
    )


BROKEN_EXISTS = (1, 14, 4)


@check("r2.storages.storages_version", per_storage=False)
def storages_version(ctx: CheckContext) -> Outcome:
    """django-storages is not 1.14.4.

    Catches: django-storages 1.14.4, whose exists() answers False for every name while
    file_overwrite is on: skip-if-exists logic re-uploads and health checks report files
    missing.

    Fix: pip install "django-storages[s3]>=1.14.5" (1.14.5 restored exists()).

    Source: jschneier/django-storages issue 1430 and pull request 1484; CHANGELOG 1.14.5
    ('Revert exists() behavior to pre-1.14.4 semantics')
    """
    installed = installed_version("django-storages")
    if installed != BROKEN_EXISTS:
        return ok(f"django-storages {dotted(installed) or 'is not installed'}.")
    affected = [alias for alias in s3_aliases() if overwrites(alias, partial(open_storage, alias))]
    upgrade = 'pip install "django-storages[s3]>=1.14.5" (and pin it in your requirements).'
    if not affected:
        return ok(
            "django-storages 1.14.4 is installed; its broken exists() only bites with "
            "file_overwrite on, which no S3 storage here has.",
            version=dotted(installed),
        )
    return fail(
        f"django-storages 1.14.4 is installed and STORAGES {', '.join(map(repr, affected))} "
        "overwrite files: its exists() then answers False for every name, so "
        "skip-if-exists logic re-uploads and health checks report files missing.",
        upgrade,
        version=dotted(installed),
        storages=affected,
    )
