"""The 'cors' group's live check: a real browser preflight sent to the
bucket, compared with what its rules (read by :mod:`checks.cors`) predict.
The round-trip sends the same preflights through the custom domain."""

import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from r2_toolkit.checks import cors_rules
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.cors import cors_state, require_origins, rules_hint
from r2_toolkit.checks.registry import Outcome, check, fail, ok
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe
from r2_toolkit.core.http import fetch, s3_error
from r2_toolkit.core.redact import scrub


def object_url(ctx: CheckContext) -> str:
    """The URL of a (possibly missing) object, in the form boto3 uses for this
    endpoint (path-style for IP and localhost endpoints), without signature."""
    url = ctx.client().generate_presigned_url(
        "put_object",
        Params={"Bucket": ctx.bucket, "Key": f"{toolkit_settings.PROBE_PREFIX}cors-preflight"},
        ExpiresIn=60,
    )
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def error_words(body: bytes) -> str:
    """'Code: Message' from an S3 XML error body, if there is one."""
    return scrub(": ".join(part for part in s3_error(body) if part))


def live_verdict(
    url: str,
    origin: str,
    timeout: float,
    method: str = "PUT",
    request_headers: Sequence[str] = (cors_rules.UPLOAD_HEADER,),
) -> tuple[bool, str]:
    """(allowed, reason) for a real preflight from ``origin``: a browser's
    OPTIONS before a PUT with Content-Type, unless told otherwise."""
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = ",".join(request_headers)
    request = urllib.request.Request(url, method="OPTIONS", headers=headers)
    status, answer, body = fetch(request, timeout, limit=4096)
    allowed, reason = cors_rules.preflight_verdict(
        status, dict(answer), origin, method, request_headers
    )
    words = error_words(body) if not allowed else ""
    return allowed, f"{reason} ({words})" if words else reason


@check("r2.cors.preflight_live", kind="network")
def preflight_live(ctx: CheckContext) -> Outcome:
    """The server answers a real browser preflight as its rules say.

    Catches: A server (or a proxy, CDN or custom domain in front of it) that refuses browser
    uploads the rules allow, or allows what they refuse.

    Fix: Send the preflight yourself (curl -i -X OPTIONS -H 'Origin: <origin>' -H
    'Access-Control-Request-Method: PUT' <object URL>) and look at what answers: rules not yet
    applied, another bucket or endpoint, or a proxy that strips CORS headers.
    """
    require_origins()
    state = cors_state(ctx)
    url = object_url(ctx)
    evaluations = {e["origin"]: e for e in state.evaluations}
    refused, disagreements, agreed = [], [], []
    for origin in state.origins:
        browser_origin = cors_rules.normalize_origin(origin)
        if browser_origin is None:
            continue  # r2.cors.origins_wellformed reports it
        try:
            allowed, reason = live_verdict(url, browser_origin, ctx.timeout)
        except (OSError, ValueError) as exc:
            return fail(
                f"The preflight to {scrub(url)} could not be sent: {describe(exc)}.",
                "Check that AWS_S3_ENDPOINT_URL is reachable over HTTP from this host.",
            )
        evaluation = evaluations[origin]
        expected = (
            evaluation["put"] and evaluation["content_type"] if state.rules is not None else None
        )
        if expected is None and not allowed:
            refused.append(f"{browser_origin}: {reason}")
        elif expected is not None and expected != allowed:
            says = "allow" if expected else "refuse"
            disagreements.append(f"the rules {says} PUT from {browser_origin} but {reason}")
        else:
            agreed.append(f"{browser_origin}: {'allowed' if allowed else 'refused'}")
    details = {"url": scrub(url)}
    if refused:
        return fail(
            "The server refuses browser uploads (a PUT preflight with Content-Type) "
            f"from {'; '.join(refused)}.",
            rules_hint(ctx, state),
            **details,
        )
    if disagreements:
        return fail(
            "The server's answer to a real preflight disagrees with the bucket's CORS "
            f"rules: {'; '.join(disagreements)}.",
            "The rules you read are not what the server applies: wait a minute after "
            "changing them (R2 propagates rules within about 30 seconds), check that "
            "AWS_S3_ENDPOINT_URL and the bucket name are the ones the browser uses, "
            "and that no proxy, CDN or custom-domain rule rewrites CORS headers. If the "
            "server allows more than the rules, it does not enforce them; fix the rules "
            "anyway, R2 does enforce them:\n" + rules_hint(ctx, state),
            **details,
        )
    return ok(
        f"A real PUT preflight got the answer the rules predict ({'; '.join(agreed)}).", **details
    )
