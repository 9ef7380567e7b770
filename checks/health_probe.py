"""``R2_TOOLKIT["HEALTH_PROBE"]``: what /healthz, /readyz and /metrics ask
each storage. A mode the probe does not know, an alias that is not an S3
storage, or an object name the storage refuses would make every probe of
that alias fail (or probe nothing) in production, where a probe that is
always down is soon ignored; the gate says so before the deploy."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import Outcome, check, fail, ok
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.files import object_key
from r2_toolkit.core.storage import s3_aliases

MODES_HINT = (
    'Set R2_TOOLKIT["HEALTH_PROBE"] to "head_bucket", "list", "get:<name>" or '
    '"public:<name>", or to a dict of STORAGES alias -> one of those, e.g. '
    '{"default": "get:health/ping.txt"}.'
)


def configured_modes() -> tuple[dict[str, str], None] | tuple[None, str]:
    """{alias: mode} as configured (None: one mode for every S3 alias), or the
    sentence saying why the setting cannot be read."""
    try:
        configured = toolkit_settings.HEALTH_PROBE
    except ImproperlyConfigured as exc:
        return None, str(exc).rstrip(".")
    if isinstance(configured, dict):
        return configured, None
    return {alias: configured for alias in s3_aliases()}, None


def unknown_aliases(modes: dict[str, str]) -> list[str]:
    return [alias for alias in modes if alias not in s3_aliases()]


def refused_names(modes: dict[str, str]) -> list[tuple[str, str]]:
    """[(alias, mode)] whose object name the alias's storage refuses (it
    escapes the location, say): the probe could never read it."""
    refused = []
    for alias, mode in modes.items():
        kind, _, name = mode.partition(":")
        if kind in ("get", "public") and alias in s3_aliases():
            storage = storages.create_storage(dict(settings.STORAGES[alias]))
            if object_key(storage, name) is None:
                refused.append((alias, mode))
    return refused


@check("r2.settings.health_probe", per_storage=False)
def health_probe(ctx: CheckContext) -> Outcome:
    """The health probe's mode and aliases are ones it can ask.

    Catches: An R2_TOOLKIT["HEALTH_PROBE"] mode the probe does not know, a dict entry for an
    alias that is not an S3 storage in STORAGES (a typo probes nothing), or a get:/public:
    object name the storage refuses: /healthz, /readyz and /metrics would report that alias
    down, or not at all, from the first request.

    Fix: Write each mode as "head_bucket", "list", "get:<name>" or "public:<name>", key the dict
    by the S3 aliases of STORAGES, and name an object inside the storage's location.

    Source: issue 19 (monitoring: R2-safe probe modes)
    """
    modes, problem = configured_modes()
    if modes is None:  # then problem says why
        return fail(f"{problem}.", MODES_HINT)  # conf's sentence names the setting
    unknown = unknown_aliases(modes)
    if unknown:
        aliases = s3_aliases()
        kept = {alias: mode for alias, mode in modes.items() if alias in aliases}
        return fail(
            f'R2_TOOLKIT["HEALTH_PROBE"] names {", ".join(map(repr, unknown))}, which '
            f"{'is not an S3 alias' if len(unknown) == 1 else 'are not S3 aliases'} in "
            f"STORAGES; the S3 aliases are: {', '.join(aliases) or 'none'}.",
            f'Set R2_TOOLKIT["HEALTH_PROBE"] = {kept or {aliases[0]: "head_bucket"}!r} '
            "(keyed by the S3 aliases of STORAGES)."
            if aliases
            else "Configure an S3 storage in STORAGES first.",
            unknown=unknown,
        )
    refused = refused_names(modes)
    if refused:
        alias, mode = refused[0]
        return fail(
            f"The health probe of STORAGES[{alias!r}] is {mode!r}, whose object name that "
            "storage refuses (it escapes the storage's location).",
            "Name an object inside the storage's location, relative to it as "
            "AWS_LOCATION is, e.g. get:health/ping.txt.",
            refused=[{"alias": a, "mode": m} for a, m in refused],
        )
    described = ", ".join(f"{alias}: {mode}" for alias, mode in modes.items()) or "no S3 alias"
    return ok(f"The health probe asks {described}.", modes=modes)
