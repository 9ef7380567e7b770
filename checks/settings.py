"""Checks of the 'settings' group: do the storage settings suit the store?

R2 endpoints (``<account>.r2.cloudflarestorage.com``, also in the ``eu`` and
``fedramp`` jurisdictions) get every check; other S3-compatible endpoints get
the generic subset and the R2-only checks skip with a reason. Nothing here
talks to the network: URLs are built and signed locally by the same boto3 and
django-storages code the app runs.
"""

import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ImproperlyConfigured

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.options import assignment, configured, sentence, setting_path
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.core.storage import R2_HOST_SUFFIX, endpoint_problem, is_r2_endpoint

SAMPLE_KEY = "r2-toolkit-sample/example.jpg"  # any name: no layout of one site
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
def built(ctx: CheckContext) -> Any:
    """The freshly built storage; skips when the settings cannot build one."""
    try:
        return ctx.storage()
    except ImproperlyConfigured as exc:
        raise Skip(
            "the storage cannot be built from its settings; see r2.storages.options"
        ) from exc


def value(ctx: CheckContext, option: str) -> Any:
    """``option`` as the storage sees it, or as written when it cannot be built
    (django-storages itself refuses some of the values checked here)."""
    try:
        return getattr(ctx.storage(), option)
    except ImproperlyConfigured:
        return configured(ctx.alias, option)


def misset(ctx: CheckContext, option: str, problem: str, corrected: object) -> Outcome:
    """A check's failure over one option: ``problem``, the line to paste that
    sets it to ``corrected``, and the value found (in details, by its name)."""
    return fail(problem, assignment(ctx.alias, option, corrected), **{option: value(ctx, option)})


def is_r2(ctx: CheckContext) -> bool:
    return is_r2_endpoint(value(ctx, "endpoint_url"))


def require_r2(ctx: CheckContext) -> None:
    if not is_r2(ctx):
        endpoint = value(ctx, "endpoint_url") or "Amazon S3"
        raise Skip(f"not an R2 endpoint ({endpoint}); this check applies to R2 only")


def has_keys(storage: Any) -> bool:
    """Whether the storage names its credentials (so signing needs no lookup
    through the credential chain, which may reach the network)."""
    return bool((storage.access_key and storage.secret_key) or storage.session_profile)


def public_domain_example(ctx: CheckContext) -> str:
    return PUBLIC_DOMAIN_HINT.format(assignment(ctx.alias, "custom_domain", "media.example.com"))


def public_domain_problem(ctx: CheckContext, parts: SplitResult, host: str) -> str | None:
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
@check("r2.settings.bucket_name")
def bucket_name(ctx: CheckContext) -> Outcome:
    """The bucket name is set and valid.

    Catches: An unset AWS_STORAGE_BUCKET_NAME, or a name the store will refuse.

    Fix: Set AWS_STORAGE_BUCKET_NAME to the bucket's name: 3-63 lower-case letters, digits and
    hyphens (R2), dots also allowed on S3.
    """
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


@check("r2.settings.endpoint")
def endpoint(ctx: CheckContext) -> Outcome:
    """The endpoint URL is well-formed.

    Catches: A malformed AWS_S3_ENDPOINT_URL; a public domain (an r2.dev URL or the custom
    domain) where the account's S3 API endpoint belongs, so every signed request fails; for R2:
    not https, no 32-hex account id, or the bucket name in the path.

    Fix: For R2 set AWS_S3_ENDPOINT_URL = "https://<account id>.r2.cloudflarestorage.com" (no
    bucket, no trailing path); the bucket goes in AWS_STORAGE_BUCKET_NAME and the public domain
    in AWS_S3_CUSTOM_DOMAIN.

    Source: Cloudflare R2 docs, Authentication (S3 API tokens: the endpoint is
    https://<ACCOUNT_ID>.r2.cloudflarestorage.com) and Public buckets (r2.dev and custom domains
    serve public reads)
    """
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
        if form and account_ok
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
    assert form is not None  # else account_ok is False and problems name the host
    return ok(
        f"The R2 endpoint is {url}.", endpoint=url, jurisdiction=form["jurisdiction"] or "default"
    )


@check("r2.settings.region")
def region(ctx: CheckContext) -> Outcome:
    """R2: the region is 'auto'.

    Catches: An AWS region name on R2, which R2 refuses (it only knows 'auto').

    Fix: Set AWS_S3_REGION_NAME = "auto".
    """
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


@check("r2.settings.acl")
def acl(ctx: CheckContext) -> Outcome:
    """R2: no object ACLs.

    Catches: AWS_DEFAULT_ACL or an 'ACL' in AWS_S3_OBJECT_PARAMETERS: R2 does not implement
    ACLs.

    Fix: Remove AWS_DEFAULT_ACL and 'ACL' from AWS_S3_OBJECT_PARAMETERS; make the bucket public
    through a custom domain (or r2.dev for development).
    """
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
