"""Checks of the 'settings' group, continued: how URLs are built (the custom
domain, protocol, location, expiry, signatures, the public URL of a key)."""

import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.options import assignment, configured, sentence, setting_path
from r2_toolkit.checks.registry import Outcome, check, fail, ok, skip, warn
from r2_toolkit.checks.settings import (
    MAX_PRESIGN_SECONDS,
    SAMPLE_KEY,
    SIGNED_PARAMS,
    built,
    has_keys,
    is_r2,
    misset,
    public_domain_example,
    value,
)
from r2_toolkit.core.redact import redact_url
from r2_toolkit.core.storage import R2_HOST_SUFFIX


# --- how URLs are built ----------------------------------------------------
@check("r2.settings.custom_domain")
def custom_domain(ctx: CheckContext) -> Outcome:
    """The custom domain is a bare host name.

    Catches: AWS_S3_CUSTOM_DOMAIN with a scheme or a trailing slash, which breaks every URL.

    Fix: Set AWS_S3_CUSTOM_DOMAIN = "media.example.com" (no https://, no trailing /); the scheme
    goes in AWS_S3_URL_PROTOCOL.
    """
    domain = value(ctx, "custom_domain")
    if not domain:
        return ok("No custom domain is set.")
    if not isinstance(domain, str):
        return fail(
            f"The custom domain {domain!r} is not a host name.",
            assignment(ctx.alias, "custom_domain", "media.example.com"),
        )
    cleaned = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain.strip(), flags=re.I).rstrip("/")
    if cleaned == domain:
        return ok(f"The custom domain is {domain}.", custom_domain=domain)
    problems = []
    if "://" in domain:
        problems.append("it starts with a scheme")
    if domain.rstrip().endswith("/"):
        problems.append("it ends with a slash")
    if domain != domain.strip():
        problems.append("it has surrounding spaces")
    return misset(
        ctx,
        "custom_domain",
        f"The custom domain {domain!r} is not a bare host name: {', '.join(problems)}; "
        "url() would return broken URLs like https://https://... or //key.",
        cleaned,
    )


@check("r2.settings.url_protocol")
def url_protocol(ctx: CheckContext) -> Outcome:
    """The URL protocol ends in ':'.

    Catches: AWS_S3_URL_PROTOCOL written as 'https' or 'https://', which breaks every URL.

    Fix: Set AWS_S3_URL_PROTOCOL = "https:" (with the colon, nothing after it).
    """
    protocol = value(ctx, "url_protocol")
    if protocol in ("https:", "http:"):
        return ok(f"The URL protocol is {protocol!r}.")
    scheme = "http:" if str(protocol).lower().startswith("http:") else "https:"
    problem = (
        f"The URL protocol is {protocol!r}; django-storages expects 'https:' or 'http:' "
        "(ending in ':'), or url() returns broken URLs."
    )
    return misset(ctx, "url_protocol", problem, scheme)


@check("r2.settings.location")
def location(ctx: CheckContext) -> Outcome:
    """The location has no leading slash.

    Catches: AWS_LOCATION starting with '/', which django-storages refuses.

    Fix: Write AWS_LOCATION without a leading slash, e.g. AWS_LOCATION = "media".
    """
    prefix = value(ctx, "location") or ""
    if not prefix.startswith("/"):
        return ok(f"The location is {prefix!r}." if prefix else "No location prefix is set.")
    problem = (
        f"The location {prefix!r} starts with '/': django-storages refuses to build the storage."
    )
    return misset(ctx, "location", problem, prefix.lstrip("/"))


@check("r2.settings.querystring_expire")
def querystring_expire(ctx: CheckContext) -> Outcome:
    """Presigned URLs expire within 7 days.

    Catches: AWS_QUERYSTRING_EXPIRE above 604800 seconds, the most a SigV4 URL may live.

    Fix: Set AWS_QUERYSTRING_EXPIRE to at most 604800 (7 days).
    """
    seconds = value(ctx, "querystring_expire")
    fix = assignment(ctx.alias, "querystring_expire", min(3600, MAX_PRESIGN_SECONDS))
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return fail(
            f"The presigned URL lifetime {seconds!r} is not a whole number of seconds.",
            fix,
            querystring_expire=seconds,
        )
    if not 0 < seconds <= MAX_PRESIGN_SECONDS:
        return fail(
            f"Presigned URLs are set to live {seconds} seconds; the store refuses "
            f"signatures outside 1..{MAX_PRESIGN_SECONDS} (7 days).",
            fix,
            querystring_expire=seconds,
        )
    return ok(f"Presigned URLs live {seconds} seconds.")


@check("r2.settings.signature")
def signature(ctx: CheckContext) -> Outcome:
    """Presigned URLs use SigV4.

    Catches: Presigned URLs signed with SigV2 (signature_version 's3'), which R2 rejects.

    Fix: Use SigV4: AWS_S3_SIGNATURE_VERSION = "s3v4", or signature_version="s3v4" in
    AWS_S3_CLIENT_CONFIG when that is set.
    """
    storage = built(ctx)
    if not has_keys(storage):
        return skip(
            "No access keys are configured, so nothing can be signed here; see r2.connectivity."
        )
    url = ctx.client().generate_presigned_url(
        "get_object",
        Params={"Bucket": storage.bucket_name or "example-bucket", "Key": SAMPLE_KEY},
        ExpiresIn=60,
    )
    algorithm = parse_qs(urlsplit(url).query).get("X-Amz-Algorithm", [""])[0]
    if algorithm == "AWS4-HMAC-SHA256":
        return ok("Presigned URLs use SigV4 (AWS4-HMAC-SHA256).")
    if configured(ctx.alias, "client_config") is not None:
        # django-storages ignores signature_version once a client config is set.
        fix = (
            f'Pass signature_version="s3v4" to the Config(...) in '
            f"{setting_path(ctx.alias, 'client_config')}; AWS_S3_SIGNATURE_VERSION is "
            "ignored while a client config is set"
        )
    else:
        fix = assignment(ctx.alias, "signature_version", "s3v4")
    return fail(
        "Presigned URLs are signed with SigV2 (AWSAccessKeyId and Signature in the "
        "query), which R2 rejects and AWS has deprecated: botocore presigns with SigV2 "
        "unless the client config names SigV4.",
        fix,
        sample=redact_url(url),
    )


@check("r2.settings.signed_custom_domain")
def signed_custom_domain(ctx: CheckContext) -> Outcome:
    """No query-string auth together with a custom domain.

    Catches: AWS_QUERYSTRING_AUTH with AWS_S3_CUSTOM_DOMAIN: the URLs come out unsigned, and R2
    cannot presign custom domains.

    Fix: For a public bucket behind the custom domain set AWS_QUERYSTRING_AUTH = False; keep
    private files in a second STORAGES alias without a custom domain.
    """
    storage = built(ctx)
    if not (storage.querystring_auth and storage.custom_domain) or storage.cloudfront_signer:
        return ok("Query-string auth and the custom domain do not conflict.")
    message = (
        "Query-string auth is on together with the custom domain "
        f"{storage.custom_domain}: django-storages then returns unsigned custom-domain "
        "URLs, so private objects answer 403"
    )
    hint = (
        f"{assignment(ctx.alias, 'querystring_auth', False)} if the bucket is public behind "
        f"the domain; for private files use a second STORAGES alias without "
        f"{setting_path(ctx.alias, 'custom_domain')}, whose url() is presigned."
    )
    if is_r2(ctx):
        return fail(message + " (R2 cannot presign custom domains at all).", hint)
    return warn(message + ".", hint)


@check("r2.settings.r2_dev_domain")
def r2_dev_domain(ctx: CheckContext) -> Outcome:
    """No r2.dev public domain in production.

    Catches: A *.r2.dev custom domain outside DEBUG: it is rate-limited and meant for
    development only.

    Fix: Connect a custom domain to the bucket in the Cloudflare dashboard and set
    AWS_S3_CUSTOM_DOMAIN to it.
    """
    domain = value(ctx, "custom_domain") or ""
    host = urlsplit(f"//{domain.split('://')[-1]}").hostname or ""
    if not (host == "r2.dev" or host.endswith(".r2.dev")):
        return ok("The public domain is not an r2.dev development URL.")
    if settings.DEBUG:
        return ok(f"{host} is an r2.dev development URL; fine while DEBUG is on.")
    return warn(
        f"Media is served from {host}, an r2.dev development URL: Cloudflare "
        "rate-limits it and does not support it for production traffic.",
        sentence(public_domain_example(ctx)),
        custom_domain=domain,
    )


@check("r2.settings.public_url")
def public_url(ctx: CheckContext) -> Outcome:
    """url() returns the public URL.

    Catches: url() returning the private R2 endpoint or an expiring signed URL instead of the
    public custom-domain URL (signed URLs are fine for aliases other than 'default', such as a
    private second bucket).

    Fix: Set AWS_S3_CUSTOM_DOMAIN = "media.example.com" (the bucket's public domain) and
    AWS_QUERYSTRING_AUTH = False.
    """
    storage = built(ctx)
    if not storage.custom_domain and storage.querystring_auth and not has_keys(storage):
        return skip("No access keys are configured, so url() cannot sign; see r2.connectivity.")
    url = storage.url(SAMPLE_KEY)
    shown = redact_url(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    endpoint_host = (urlsplit(storage.endpoint_url or "").hostname or "").lower()
    domain_fix = (
        public_domain_example(ctx) + " and " + assignment(ctx.alias, "querystring_auth", False)
    )
    if any(param in parse_qs(parts.query) for param in SIGNED_PARAMS):
        if ctx.alias != "default":  # a private second bucket is meant to sign
            return ok(
                f"url() returns presigned URLs (STORAGES[{ctx.alias!r}] is private).", url=shown
            )
        return fail(
            f"url() returns a signed URL ({shown}) that expires after "
            f"{storage.querystring_expire} seconds: a public_url stored from it breaks.",
            sentence(domain_fix),
            url=shown,
        )
    if host.endswith(R2_HOST_SUFFIX):
        return fail(
            f"url() returns the private R2 endpoint ({shown}): it never serves "
            "anonymous reads, so every image link breaks.",
            sentence(domain_fix),
            url=shown,
        )
    if storage.custom_domain:
        expected = f"{storage.url_protocol}//{storage.custom_domain}/"
        if not url.startswith(expected):
            return fail(
                f"url() returns {shown}, not a URL under the custom domain ({expected}).",
                "Check the storage class for a url() override; the settings are right.",
                url=shown,
            )
        return ok(f"url() returns the public URL {shown}.", url=shown)
    where = "the S3 endpoint" if host == endpoint_host or not endpoint_host else host
    outcome = fail if is_r2(ctx) else warn
    return outcome(
        f"url() returns a URL on {where} ({shown}), not a public custom domain: it "
        "only works if the bucket itself allows anonymous reads.",
        sentence(domain_fix),
        url=shown,
    )
