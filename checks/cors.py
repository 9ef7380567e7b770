"""Checks of the 'cors' group: can the site's browsers GET and PUT objects?

The bucket's rules are read once per context (one GetBucketCors shared by
every check here and by the /debug/r2/cors view through :func:`cors_report`),
evaluated for each origin in ``R2_TOOLKIT["CORS_ORIGINS"]`` with
:mod:`checks.cors_rules`, and compared with what the server answers to a
real browser preflight (:mod:`checks.cors_live`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks import commands, cors_rules
from r2_toolkit.checks.context import CheckContext, once
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe, error_code, http_status
from r2_toolkit.core.redact import scrub

NO_ORIGINS = (
    'No browser origins are configured (R2_TOOLKIT["CORS_ORIGINS"] is empty): the site '
    "does no browser uploads, so the bucket's CORS rules are not its concern"
)
SET_ORIGINS = (
    'Set R2_TOOLKIT["CORS_ORIGINS"] to the origins your pages are served from, e.g. '
    '["https://app.example.com"]'
)
RULES_UNREADABLE = "the bucket's CORS rules could not be read; see r2.cors.rules_readable"
TOKEN_SCOPE = (
    "the token may read objects but not bucket configuration (its scope, not the rules); "
    "see r2.cors.rules_readable"
)
DENIED_CODES = {"AccessDenied", "Forbidden", "403"}
FETCH_FIX = (
    "Set the bucket's CORS rules to the JSON in the hint (it keeps your other rules); "
    "on R2 in the dashboard (bucket > Settings > CORS Policy) or with "
    "`wrangler r2 bucket cors set`."
)


@dataclass
class CorsState:
    """The bucket's rules (``None`` when unreadable) and their evaluation."""

    rules: list[cors_rules.Rule] | None
    origins: list[str]
    missing: bool = False  # NoSuchCORSConfiguration: the bucket has no rules
    denied: bool = False  # the keys may not read bucket configuration
    error: str | None = None
    evaluations: list[dict[str, object]] = field(default_factory=list)
    recommended: list[cors_rules.Rule] = field(default_factory=list)


def read_rules(ctx: CheckContext) -> CorsState:
    """GetBucketCors as a CorsState without origins."""
    try:
        response = ctx.client().get_bucket_cors(Bucket=ctx.bucket)
    except ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchCORSConfiguration":
            return CorsState(rules=[], origins=[], missing=True)
        if code in DENIED_CODES or http_status(exc) == 403:
            return CorsState(rules=None, origins=[], denied=True, error=describe(exc))
        if str(code).isdigit():  # no S3 error code: botocore turns an unreadable 200 into a 500
            return CorsState(
                rules=None,
                origins=[],
                error=(
                    "the server's answer to GetBucketCors is not a CORS configuration (nor an S3 "
                    f"error; botocore reports HTTP {http_status(exc)})"
                ),
            )
        return CorsState(rules=None, origins=[], error=describe(exc))
    except BotoCoreError as exc:  # a 200 whose body is not a CORS configuration
        return CorsState(
            rules=None,
            origins=[],
            error=(
                f"the server's answer to GetBucketCors is not a CORS configuration ({describe(exc)})"
            ),
        )
    rules = response.get("CORSRules") or []
    if not all(isinstance(rule, dict) for rule in rules):
        return CorsState(
            rules=None,
            origins=[],
            error="the server's answer to GetBucketCors has rules that are not rules",
        )
    return CorsState(rules=rules, origins=[])


@once
def cors_state(ctx: CheckContext) -> CorsState:
    """The rules and their evaluation, once per context; raises Skip when
    the bucket is unreachable (r2.connectivity.head_bucket says why)."""
    ctx.require_bucket()
    state = read_rules(ctx)
    state.origins = list(toolkit_settings.CORS_ORIGINS)
    state.evaluations = [cors_rules.evaluate(state.rules or [], o) for o in state.origins]
    state.recommended = cors_rules.recommended_rules(state.rules or [], state.origins, ctx.is_r2)
    return state


def cors_report(ctx: CheckContext) -> dict[str, object]:
    """The bucket's CORS rules and their evaluation, JSON-able, never raising:
    {"storage", "bucket", "rules", "error", "origins", "recommended_rules"}."""
    report: dict[str, object] = {
        "storage": ctx.alias,
        "bucket": None,
        "rules": None,
        "error": None,
        "origins": [],
        "recommended_rules": [],
    }
    try:
        report["bucket"] = ctx.bucket
        state = cors_state(ctx)
    except Exception as exc:  # Skip (bucket unreachable), settings that do not load, ...
        report["error"] = str(exc) if isinstance(exc, Skip) else describe(exc)
        return report
    report.update(
        rules=state.rules,
        error=state.error,
        origins=state.evaluations,
        recommended_rules=state.recommended,
    )
    return report


# --- the hint: the corrected rules, ready to paste ---------------------------
def cloudflare_shape(rules: list[cors_rules.Rule]) -> dict[str, list[dict[str, Any]]]:
    """The same rules in the shape `wrangler r2 bucket cors set --file` reads."""
    converted: list[dict[str, Any]] = []
    for rule in rules:
        item = {
            "allowed": {
                "origins": rule.get("AllowedOrigins", []),
                "methods": rule.get("AllowedMethods", []),
            }
        }
        if rule.get("AllowedHeaders"):
            item["allowed"]["headers"] = rule["AllowedHeaders"]
        if rule.get("ExposeHeaders"):
            item["exposeHeaders"] = rule["ExposeHeaders"]
        if rule.get("MaxAgeSeconds") is not None:
            item["maxAgeSeconds"] = rule["MaxAgeSeconds"]
        converted.append(item)
    return {"rules": converted}


def rules_hint(ctx: CheckContext, state: CorsState) -> str:
    rules = state.recommended
    text = "Set the bucket's CORS rules to this JSON (your other rules are kept):\n" + json.dumps(
        rules, indent=2
    )
    if ctx.is_r2:
        text += (
            f"\nOn R2: paste it in the dashboard (R2 > {ctx.bucket} > Settings > CORS Policy), or "
            f"save {json.dumps(cloudflare_shape(rules))} as cors.json and run "
            f"`{commands.wrangler_set_cors(str(ctx.bucket))}`."
        )
    else:
        text += (
            "\nWith the AWS CLI: "
            f"`{commands.put_bucket_cors(str(ctx.bucket), rules, ctx.endpoint_url)}`."
        )
    if not state.origins:
        text += f"\nThe rule allows every origin ('*'). {SET_ORIGINS} to narrow it."
    return scrub(text)


def require_origins() -> None:
    """Skip the calling check when the site configures no browser origins:
    without browser uploads the CORS rules are not the deploy's concern."""
    if not toolkit_settings.CORS_ORIGINS:
        raise Skip(NO_ORIGINS)


# --- checks ------------------------------------------------------------------
@check("r2.cors.rules_readable", kind="network", fix=FETCH_FIX)
def rules_readable(ctx: CheckContext) -> Outcome:
    """The bucket's CORS rules can be read.

    Catches: A bucket without CORS rules (browsers cannot upload or read with script), a 403
    that is the token's scope rather than wrong keys (an object-only token cannot read bucket
    configuration such as CORS), or an answer that is not a CORS configuration.

    Source: Cloudflare R2 docs, Authentication (permissions: Object Read & Write tokens cannot
    view bucket configuration)
    """
    require_origins()
    state = cors_state(ctx)
    if state.denied:
        # cors_state() only runs once HeadBucket succeeded with the same keys: the keys
        # are right, the token's scope stops at objects.
        return warn(
            f"The token may not read bucket {ctx.bucket}'s CORS rules ({state.error}), "
            "although the same keys reach the bucket: that is the token's scope (on R2 an "
            "'Object Read & Write' token cannot read CORS rules), not wrong keys or wrong "
            "rules. The rules cannot be verified here; r2.cors.preflight_live still tests "
            "what browsers get.",
            "Keep the object-only token for the app, and let the gate read the rules with a "
            "token that has 'Admin Read' (R2 > Manage R2 API Tokens); on S3 allow "
            "s3:GetBucketCORS. Or check the rules yourself in the dashboard (R2 > bucket > "
            f"Settings > CORS Policy) or with `{commands.wrangler_list_cors(str(ctx.bucket))}`.",
            token_scope="objects",
        )
    if state.error:
        return fail(
            f"Bucket {ctx.bucket}'s CORS rules could not be read: {state.error}.",
            rules_hint(ctx, state),
        )
    if state.missing:
        return fail(
            f"Bucket {ctx.bucket} has no CORS rules: browsers on your site can neither "
            "upload to it nor read its objects from script.",
            rules_hint(ctx, state),
        )
    return ok(f"Bucket {ctx.bucket} has {len(state.rules or [])} CORS rule(s).", rules=state.rules)


def origin_check(
    ctx: CheckContext,
    allowed: Callable[[dict[str, object]], object],
    what: str,
    consequence: str,
    status: Callable[..., Outcome] = fail,
) -> Outcome:
    """Shared by the per-origin checks: ``allowed(evaluation)`` for each
    configured origin; fail (or warn) naming the origins that lack it."""
    require_origins()
    state = cors_state(ctx)
    if state.denied:
        raise Skip(TOKEN_SCOPE)
    if state.rules is None:
        raise Skip(RULES_UNREADABLE)
    lacking = [e["origin"] for e in state.evaluations if not allowed(e)]
    if lacking:
        return status(
            f"The CORS rules of bucket {ctx.bucket} do not {what} "
            f"{', '.join(map(str, lacking))}: {consequence}.",
            rules_hint(ctx, state),
            origins=lacking,
        )
    return ok(f"The CORS rules {what} {', '.join(state.origins)}.")


@check("r2.cors.put_allowed", kind="network", fix=FETCH_FIX)
def put_allowed(ctx: CheckContext) -> Outcome:
    """Browsers on the site's origins may PUT.

    Catches: CORS rules that allow only GET/HEAD, so browser uploads with presigned URLs fail
    their preflight.
    """
    return origin_check(
        ctx, lambda e: e["put"], "allow PUT from", "browser uploads fail their preflight"
    )


@check("r2.cors.get_allowed", kind="network", fix=FETCH_FIX)
def get_allowed(ctx: CheckContext) -> Outcome:
    """Browsers on the site's origins may GET and HEAD.

    Catches: CORS rules that do not let the site's pages read objects from script (fetch,
    canvas, image processing).
    """
    return origin_check(
        ctx,
        lambda e: e["get"] and e["head"],
        "allow GET and HEAD from",
        "pages cannot read the bucket's objects from script",
    )


@check("r2.cors.content_type_allowed", kind="network", fix=FETCH_FIX)
def content_type_allowed(ctx: CheckContext) -> Outcome:
    """Browsers may send Content-Type with a PUT.

    Catches: CORS rules whose AllowedHeaders leave out content-type, so an upload that sets its
    content type fails the preflight.
    """
    require_origins()
    state = cors_state(ctx)
    if state.evaluations and not any(e["put"] for e in state.evaluations):
        raise Skip("PUT itself is not allowed; see r2.cors.put_allowed")
    # An origin that may not PUT at all is r2.cors.put_allowed's failure, not this one's.
    return origin_check(
        ctx,
        lambda e: e["content_type"] or not e["put"],
        "allow the Content-Type header on PUT from",
        "uploads that set a content type fail their preflight",
    )


@check("r2.cors.etag_exposed", kind="network", fix=FETCH_FIX)
def etag_exposed(ctx: CheckContext) -> Outcome:
    """ETag is exposed to the site's origins.

    Catches: CORS rules without ExposeHeaders ETag: browser code cannot read the ETag of an
    upload (multipart uploads need it to complete).
    """
    return origin_check(
        ctx,
        lambda e: e["etag_exposed"],
        "expose the ETag header to",
        "browser code cannot read an upload's ETag (multipart uploads need it)",
        status=warn,
    )


@check("r2.cors.origins_wellformed", kind="network")
def origins_wellformed(ctx: CheckContext) -> Outcome:
    """CORS origins are well-formed.

    Catches: Origins with a path, a trailing slash, upper-case letters or no scheme, in
    R2_TOOLKIT["CORS_ORIGINS"] or in the bucket's AllowedOrigins: they never match what a
    browser sends; and wildcard ports (http://localhost:*), for which R2 rejects the whole rule
    set with MalformedXML.

    Fix: Write every origin as scheme://host[:port], lower case, without path or trailing slash,
    each port listed (http://localhost:3000), both in R2_TOOLKIT["CORS_ORIGINS"] and in the
    bucket's rules.

    Source: Cloudflare R2 docs, Configure CORS (origins are scheme://host[:port]);
    cloudflare/cloudflare-docs issue 32888 (http://localhost:* rejected with 400 MalformedXML)
    """
    try:
        origins = toolkit_settings.CORS_ORIGINS
    except ImproperlyConfigured as exc:
        return fail(str(exc), SET_ORIGINS)
    require_origins()
    try:
        state = cors_state(ctx)
    except Skip:  # a dead bucket: the configured origins can still be judged
        state = None
    rules = state.rules if state else None
    configured = [(o, cors_rules.origin_problem(o)) for o in origins]
    configured = [(o, p) for o, p in configured if p]
    in_rules = [
        (o, cors_rules.origin_problem(o, pattern=True, r2=ctx.is_r2))
        for rule in rules or ()
        for o in cors_rules.as_list(rule, "AllowedOrigins")
    ]
    in_rules = [(o, p) for o, p in in_rules if p]
    if not configured and not in_rules:
        if rules is None:
            return ok(
                "Every configured origin is well-formed (the bucket's rules could not be read)."
            )
        return ok("Every configured origin and every AllowedOrigin is well-formed.")
    sentences = [f'R2_TOOLKIT["CORS_ORIGINS"]: {o!r} {p}' for o, p in configured]
    sentences += [f"bucket rule AllowedOrigins: {o!r} {p}" for o, p in in_rules]
    hints = []
    if configured:
        fixed = [cors_rules.normalize_origin(o) or o for o in origins]
        hints.append(
            f'Set R2_TOOLKIT["CORS_ORIGINS"] = {json.dumps(fixed)} '
            "(each origin as scheme://host[:port])."
        )
    if in_rules and state is not None:  # rules were read: state is set
        hints.append(rules_hint(ctx, state))
    return fail(
        "Malformed origins never match a browser's Origin header: " + "; ".join(sentences) + ".",
        "\n".join(hints),
        malformed=[o for o, _ in configured + in_rules],
    )
