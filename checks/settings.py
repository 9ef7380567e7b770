"""Checks of the 'settings' group: do the storage settings suit the store?

R2 endpoints (``<account>.r2.cloudflarestorage.com``, also in the ``eu`` and
``fedramp`` jurisdictions) get every check; other S3-compatible endpoints get
the generic subset and the R2-only checks skip with a reason. Nothing here
talks to the network: URLs are built and signed locally by the same boto3 and
django-storages code the app runs.
"""

import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks import r2_params
from r2_toolkit.checks.options import (
    assignment,
    configured,
    dotted,
    literal,
    sentence,
    setting_path,
    storage_options,
)
from r2_toolkit.checks.registry import Skip, check, fail, ok, skip, warn
from r2_toolkit.core.compat import HAS_FLEXIBLE_CHECKSUMS, installed_version
from r2_toolkit.core.redact import redact_url
from r2_toolkit.core.storage import R2_HOST_SUFFIX, endpoint_problem, is_r2_endpoint

SAMPLE_KEY = "users/example/images/r2-toolkit-sample.jpg"
R2_API_EXAMPLE = "https://<account id>.r2.cloudflarestorage.com"
R2_HOST = re.compile(
    r"^(?P<account>[^.]+)(?:\.(?P<jurisdiction>eu|fedramp))?" + re.escape(R2_HOST_SUFFIX) + "$"
)
ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
R2_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_PRESIGN_SECONDS = 604800  # SigV4 presigned URLs live at most 7 days
SIGNED_PARAMS = ("X-Amz-Signature", "Signature", "X-Amz-Credential", "AWSAccessKeyId")
# R2 also answers to these regions, by aliasing them to "auto".
R2_REGION_ALIASES = (None, "", "us-east-1")
CHECKSUM_CONFIG = (
    'Config(request_checksum_calculation="when_required", '
    'response_checksum_validation="when_required")'
)
PUBLIC_DOMAIN_HINT = (
    "connect a custom domain to the bucket (R2 > bucket > Settings > Custom Domains) and set {}"
)


# --- helpers ---------------------------------------------------------------
def built(ctx):
    """The freshly built storage; skips when the settings cannot build one."""
    try:
        return ctx.storage()
    except ImproperlyConfigured as exc:
        raise Skip(
            "the storage cannot be built from its settings; see r2.storages.options"
        ) from exc


def value(ctx, option):
    """``option`` as the storage sees it, or as written when it cannot be built
    (django-storages itself refuses some of the values checked here)."""
    try:
        return getattr(ctx.storage(), option)
    except ImproperlyConfigured:
        return configured(ctx.alias, option)


def is_r2(ctx):
    return is_r2_endpoint(value(ctx, "endpoint_url"))


def require_r2(ctx):
    if not is_r2(ctx):
        endpoint = value(ctx, "endpoint_url") or "Amazon S3"
        raise Skip(f"not an R2 endpoint ({endpoint}); this check applies to R2 only")


def has_keys(storage):
    """Whether the storage names its credentials (so signing needs no lookup
    through the credential chain, which may reach the network)."""
    return bool((storage.access_key and storage.secret_key) or storage.session_profile)


def public_domain_example(ctx):
    return PUBLIC_DOMAIN_HINT.format(assignment(ctx.alias, "custom_domain", "media.example.com"))


def public_domain_problem(ctx, parts, host):
    """What public domain the endpoint is (in words), or None: an r2.dev URL
    or the bucket's custom domain serve anonymous reads, never the S3 API."""
    if host == "r2.dev" or host.endswith(".r2.dev"):
        return "the bucket's public r2.dev development URL"
    domain = value(ctx, "custom_domain")
    if isinstance(domain, str) and domain.strip():
        bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain.strip(), flags=re.I).rstrip("/")
        if bare.lower() == (parts.netloc + parts.path).rstrip("/").lower():
            return f"the bucket's public custom domain ({bare}, as in AWS_S3_CUSTOM_DOMAIN)"
    return None


# --- where the storage is -------------------------------------------------
@check(
    "r2.settings.bucket_name",
    title="The bucket name is set and valid",
    catches="An unset AWS_STORAGE_BUCKET_NAME, or a name the store will refuse.",
    fix="Set AWS_STORAGE_BUCKET_NAME to the bucket's name: 3-63 lower-case letters, "
    "digits and hyphens (R2), dots also allowed on S3.",
)
def bucket_name(ctx):
    name = value(ctx, "bucket_name")
    if not name:
        return fail("No bucket is configured.", assignment(ctx.alias, "bucket_name", "my-bucket"))
    pattern = R2_BUCKET_NAME if is_r2(ctx) else BUCKET_NAME
    if not isinstance(name, str) or not pattern.match(name):
        rules = (
            "3-63 lower-case letters, digits and hyphens, starting and ending with a "
            "letter or digit" + ("" if is_r2(ctx) else " (dots also allowed)")
        )
        return fail(
            f"The bucket name {name!r} is not valid here: {rules}.",
            f"Set {setting_path(ctx.alias, 'bucket_name')} to the bucket's exact name "
            "as the dashboard shows it.",
            bucket=name,
        )
    return ok(f"The bucket is {name!r}.", bucket=name)


@check(
    "r2.settings.endpoint",
    title="The endpoint URL is well-formed",
    catches="A malformed AWS_S3_ENDPOINT_URL; a public domain (an r2.dev URL or the custom "
    "domain) where the account's S3 API endpoint belongs, so every signed request fails; "
    "for R2: not https, no 32-hex account id, or the bucket name in the path.",
    fix='For R2 set AWS_S3_ENDPOINT_URL = "https://<account id>.r2.cloudflarestorage.com" '
    "(no bucket, no trailing path); the bucket goes in AWS_STORAGE_BUCKET_NAME and the "
    "public domain in AWS_S3_CUSTOM_DOMAIN.",
    source="Cloudflare R2 docs, Authentication (S3 API tokens: the endpoint is "
    "https://<ACCOUNT_ID>.r2.cloudflarestorage.com) and Public buckets (r2.dev and custom "
    "domains serve public reads)",
)
def endpoint(ctx):
    url = value(ctx, "endpoint_url")
    if not url:
        return ok("No endpoint URL is set: the storage talks to Amazon S3.")
    example = assignment(ctx.alias, "endpoint_url", "https://<account id>.r2.cloudflarestorage.com")
    problem = endpoint_problem(url)
    if problem:
        return fail(f"The endpoint URL {url!r} {problem}.", example)
    parts = urlsplit(url)
    host = parts.hostname.lower()
    public = public_domain_problem(ctx, parts, host)
    if public:
        return fail(
            f"The endpoint URL {url!r} is {public}, not the account's S3 API endpoint: every "
            "signed request (upload, delete, HeadBucket) fails there.",
            sentence(
                f"{assignment(ctx.alias, 'endpoint_url', R2_API_EXAMPLE)} (the S3 API "
                "endpoint from R2 > Overview > Account details); the public domain belongs in "
                f"{setting_path(ctx.alias, 'custom_domain')}"
            ),
            endpoint=url,
        )
    if not host.endswith(R2_HOST_SUFFIX):
        return ok(f"The endpoint is {parts.scheme}://{parts.netloc}.", endpoint=url)
    form = R2_HOST.match(host)
    account_ok = bool(form and ACCOUNT_ID.match(form["account"]))
    fixed = "https://{}.r2.cloudflarestorage.com".format(
        ".".join(filter(None, [form["account"], form["jurisdiction"]]))
        if account_ok
        else "<account id>"
    )
    problems = []
    if parts.scheme != "https":
        problems.append("R2 only answers over https")
    if not account_ok:
        problems.append(
            "the host must be <account id>.r2.cloudflarestorage.com, with the "
            "32-character hex account id (or .eu / .fedramp before .r2)"
        )
    extra_path = parts.path.strip("/")
    if extra_path:
        problems.append(
            f"the path /{extra_path} must not be there (a bucket name belongs in "
            f"{setting_path(ctx.alias, 'bucket_name')})"
        )
    if parts.query or parts.fragment:
        problems.append("it must have no query string or fragment")
    if problems:
        return fail(
            f"The R2 endpoint URL {url!r} is wrong: {'; '.join(problems)}.",
            assignment(ctx.alias, "endpoint_url", fixed),
            endpoint=url,
        )
    return ok(
        f"The R2 endpoint is {url}.", endpoint=url, jurisdiction=form["jurisdiction"] or "default"
    )


@check(
    "r2.settings.region",
    title="R2: the region is 'auto'",
    catches="An AWS region name on R2, which R2 refuses (it only knows 'auto').",
    fix='Set AWS_S3_REGION_NAME = "auto".',
)
def region(ctx):
    require_r2(ctx)
    name = value(ctx, "region_name")
    fix = assignment(ctx.alias, "region_name", "auto")
    if name == "auto":
        return ok("The region is 'auto'.")
    if name in R2_REGION_ALIASES:
        return warn(
            f"The region is {name!r}; R2 maps it to 'auto', but say so explicitly.",
            fix,
            region=name,
        )
    return fail(
        f"The region is {name!r}, which R2 does not know: R2 has one region, 'auto'.",
        fix,
        region=name,
    )


@check(
    "r2.settings.acl",
    title="R2: no object ACLs",
    catches="AWS_DEFAULT_ACL or an 'ACL' in AWS_S3_OBJECT_PARAMETERS: R2 does not implement ACLs.",
    fix="Remove AWS_DEFAULT_ACL and 'ACL' from AWS_S3_OBJECT_PARAMETERS; make the bucket "
    "public through a custom domain (or r2.dev for development).",
)
def acl(ctx):
    require_r2(ctx)
    found = {}
    default_acl = value(ctx, "default_acl")
    if default_acl:
        found[setting_path(ctx.alias, "default_acl")] = default_acl
    parameters = value(ctx, "object_parameters") or {}
    if "ACL" in parameters:
        found[f'{setting_path(ctx.alias, "object_parameters")}["ACL"]'] = parameters["ACL"]
    if not found:
        return ok("No object ACL is set.")
    where = ", ".join(f"{name} = {acl!r}" for name, acl in found.items())
    return fail(
        f"R2 does not implement object ACLs, but {where}: uploads carrying them are "
        "refused or the ACL is silently ignored.",
        f"Remove {' and '.join(found)}; to serve objects publicly, "
        + public_domain_example(ctx)
        + " (or enable the r2.dev URL for development).",
        acl=found,
    )


# --- how URLs are built ----------------------------------------------------
@check(
    "r2.settings.custom_domain",
    title="The custom domain is a bare host name",
    catches="AWS_S3_CUSTOM_DOMAIN with a scheme or a trailing slash, which breaks every URL.",
    fix='Set AWS_S3_CUSTOM_DOMAIN = "media.example.com" (no https://, no trailing /); the '
    "scheme goes in AWS_S3_URL_PROTOCOL.",
)
def custom_domain(ctx):
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
    return fail(
        f"The custom domain {domain!r} is not a bare host name: {', '.join(problems)}; "
        "url() would return broken URLs like https://https://... or //key.",
        assignment(ctx.alias, "custom_domain", cleaned),
        custom_domain=domain,
    )


@check(
    "r2.settings.url_protocol",
    title="The URL protocol ends in ':'",
    catches="AWS_S3_URL_PROTOCOL written as 'https' or 'https://', which breaks every URL.",
    fix='Set AWS_S3_URL_PROTOCOL = "https:" (with the colon, nothing after it).',
)
def url_protocol(ctx):
    protocol = value(ctx, "url_protocol")
    if protocol in ("https:", "http:"):
        return ok(f"The URL protocol is {protocol!r}.")
    scheme = "http:" if str(protocol).lower().startswith("http:") else "https:"
    return fail(
        f"The URL protocol is {protocol!r}; django-storages expects 'https:' or 'http:' "
        "(ending in ':'), or url() returns broken URLs.",
        assignment(ctx.alias, "url_protocol", scheme),
        url_protocol=protocol,
    )


@check(
    "r2.settings.location",
    title="The location has no leading slash",
    catches="AWS_LOCATION starting with '/', which django-storages refuses.",
    fix='Write AWS_LOCATION without a leading slash, e.g. AWS_LOCATION = "media".',
)
def location(ctx):
    prefix = value(ctx, "location") or ""
    if not prefix.startswith("/"):
        return ok(f"The location is {prefix!r}." if prefix else "No location prefix is set.")
    return fail(
        f"The location {prefix!r} starts with '/': django-storages refuses to build the storage.",
        assignment(ctx.alias, "location", prefix.lstrip("/")),
        location=prefix,
    )


@check(
    "r2.settings.querystring_expire",
    title="Presigned URLs expire within 7 days",
    catches="AWS_QUERYSTRING_EXPIRE above 604800 seconds, the most a SigV4 URL may live.",
    fix="Set AWS_QUERYSTRING_EXPIRE to at most 604800 (7 days).",
)
def querystring_expire(ctx):
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


@check(
    "r2.settings.signature",
    title="Presigned URLs use SigV4",
    catches="Presigned URLs signed with SigV2 (signature_version 's3'), which R2 rejects.",
    fix='Use SigV4: AWS_S3_SIGNATURE_VERSION = "s3v4", or signature_version="s3v4" in '
    "AWS_S3_CLIENT_CONFIG when that is set.",
)
def signature(ctx):
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


@check(
    "r2.settings.signed_custom_domain",
    title="No query-string auth together with a custom domain",
    catches="AWS_QUERYSTRING_AUTH with AWS_S3_CUSTOM_DOMAIN: the URLs come out unsigned, "
    "and R2 cannot presign custom domains.",
    fix="For a public bucket behind the custom domain set AWS_QUERYSTRING_AUTH = False; "
    "keep private files in a second STORAGES alias without a custom domain.",
)
def signed_custom_domain(ctx):
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


@check(
    "r2.settings.r2_dev_domain",
    title="No r2.dev public domain in production",
    catches="A *.r2.dev custom domain outside DEBUG: it is rate-limited and meant for "
    "development only.",
    fix="Connect a custom domain to the bucket in the Cloudflare dashboard and set "
    "AWS_S3_CUSTOM_DOMAIN to it.",
)
def r2_dev_domain(ctx):
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


@check(
    "r2.settings.public_url",
    title="url() returns the public URL",
    catches="url() returning the private R2 endpoint or an expiring signed URL instead of "
    "the public custom-domain URL (signed URLs are fine for aliases other than "
    "'default', such as a private second bucket).",
    fix='Set AWS_S3_CUSTOM_DOMAIN = "media.example.com" (the bucket\'s public domain) and '
    "AWS_QUERYSTRING_AUTH = False.",
)
def public_url(ctx):
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


# --- the client's behaviour ------------------------------------------------
@check(
    "r2.settings.checksums",
    title="Checksums only when required (botocore >= 1.36)",
    catches="botocore >= 1.36 sending CRC32 checksum headers on every upload, which R2 and "
    "other S3-compatible stores have rejected.",
    fix=f"Set AWS_S3_CLIENT_CONFIG = {CHECKSUM_CONFIG} (from botocore.config import Config), "
    "with s3transfer >= 0.11.2.",
)
def checksums(ctx):
    storage = built(ctx)
    botocore_version = installed_version("botocore")
    if not HAS_FLEXIBLE_CHECKSUMS:
        raise Skip(
            f"not applicable: botocore {dotted(botocore_version)} sends no default "
            "upload checksums (they came with botocore 1.36)"
        )
    # With no keys, inspect django-storages' own unsigned client: same config,
    # and no credential lookup.
    client = ctx.client() if has_keys(storage) else storage.unsigned_connection.meta.client
    calculation = client.meta.config.request_checksum_calculation
    if storage.endpoint_url is None:
        return ok("Amazon S3 accepts the default upload checksums.")
    outcome = fail if is_r2(ctx) else warn
    if calculation != "when_required":
        return outcome(
            f"botocore {dotted(botocore_version)} adds CRC32 checksum headers to every "
            f"upload (request_checksum_calculation={calculation!r}); R2 and other "
            "S3-compatible stores have rejected them.",
            f"{setting_path(ctx.alias, 'client_config')} = {CHECKSUM_CONFIG} (from "
            "botocore.config import Config; keep any other arguments you pass)",
            request_checksum_calculation=calculation,
        )
    transfer_version = installed_version("s3transfer")
    if transfer_version and transfer_version < (0, 11, 2):
        return outcome(
            f"s3transfer {dotted(transfer_version)} ignores "
            "request_checksum_calculation for uploads, so django-storages still "
            "sends CRC32 checksum headers.",
            'pip install "s3transfer>=0.11.2"',
            s3transfer=dotted(transfer_version),
        )
    return ok(
        "Upload checksums are sent only when required.",
        botocore=dotted(botocore_version),
        s3transfer=dotted(transfer_version),
    )


# --- what uploads carry ------------------------------------------------------
@check(
    "r2.settings.object_parameters",
    title="R2: uploads carry only object parameters R2 takes",
    catches="AWS_S3_OBJECT_PARAMETERS (or a storage's get_object_parameters) asking for a "
    "StorageClass other than STANDARD or STANDARD_IA, SSE-KMS or SSE-S3, tagging or object "
    "lock: R2 answers 501 NotImplemented and every upload fails.",
    fix="Remove those keys from AWS_S3_OBJECT_PARAMETERS (keep CacheControl, ContentDisposition "
    "and the like); use StorageClass STANDARD or STANDARD_IA, and R2's own encryption, bucket "
    "locks and lifecycle rules instead.",
    source="Cloudflare R2 docs, S3 API compatibility (PutObject and CreateMultipartUpload "
    "features)",
)
def object_parameters(ctx):
    require_r2(ctx)
    storage = built(ctx)
    parameters = storage.get_object_parameters(SAMPLE_KEY)
    refused = r2_params.problems(parameters)
    if not refused:
        return ok("Uploads carry only object parameters R2 takes.")
    where = setting_path(ctx.alias, "object_parameters")
    return fail(
        f"Uploads carry object parameters R2 refuses (501 NotImplemented, so every upload "
        f"fails): {'; '.join(f'{name} ({reason})' for name, reason in refused)}.",
        f"{where} = {literal(r2_params.accepted(parameters))} (without "
        f"{', '.join(name for name, _ in refused)}; a storage subclass that adds them in "
        "get_object_parameters must stop doing so).",
        refused=[name for name, _ in refused],
    )


# --- which credential is used --------------------------------------------------
# django-storages' precedence for each credential (get_default_settings): the
# alias's OPTIONS, then AWS_S3_*, then AWS_* (the environment only when neither
# setting exists; the toolkit reads settings, not the environment).
CREDENTIALS = {
    "access key id": ("access_key", "AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    "secret key": ("secret_key", "AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
}


def credential_sources(alias, option, s3_name, plain_name):
    """[(where, value)] for each place that sets this credential, winner first."""
    found = []
    options = storage_options(alias)
    if options.get(option):
        found.append((f'STORAGES["{alias}"]["OPTIONS"]["{option}"]', options[option]))
    for name in (s3_name, plain_name):
        if getattr(settings, name, None):
            found.append((name, getattr(settings, name)))
    return found


@check(
    "r2.settings.credential_conflict",
    title="Each credential is set in one place, or the same everywhere",
    catches="Two settings for one credential that disagree: AWS_S3_SECRET_ACCESS_KEY outranks "
    "AWS_SECRET_ACCESS_KEY (and AWS_S3_ACCESS_KEY_ID outranks AWS_ACCESS_KEY_ID), so requests "
    "are signed with the other secret and fail with signature errors.",
    fix="Keep each credential in one setting: delete the outranking one (AWS_S3_SECRET_ACCESS_KEY, "
    "AWS_S3_ACCESS_KEY_ID, or the OPTIONS key) or give it the same value.",
    source="jschneier/django-storages storages/backends/s3.py get_default_settings "
    "(AWS_S3_ACCESS_KEY_ID / AWS_S3_SECRET_ACCESS_KEY are read before AWS_*); CHANGELOG 1.12 "
    "(#1026, the AWS_S3_* names) and 1.14.3 (#1336, their environment lookup)",
)
def credential_conflict(ctx):
    conflicts = []
    for what, names in CREDENTIALS.items():
        sources = credential_sources(ctx.alias, *names)
        if len({value for _, value in sources}) > 1:
            conflicts.append((what, [where for where, _ in sources]))
    if not conflicts:
        return ok("Every credential comes from one place (or agrees wherever it is set).")
    # Only the names of the settings, never their values.
    sentences = [
        f"the {what} is set differently in {' and '.join(places)}; django-storages uses {places[0]}"
        for what, places in conflicts
    ]
    fixes = [
        f"delete {' and '.join(places[:-1])} (or give it the same value as {places[-1]})"
        for _, places in conflicts
    ]
    return fail(
        sentence(
            "Two settings disagree about one credential: "
            + "; ".join(sentences)
            + ", so requests are signed with a secret other than the one you think you set"
        ),
        sentence("; ".join(fixes)),
        conflicts={what: places for what, places in conflicts},
    )
