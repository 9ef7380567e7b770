"""Checks of the 'connectivity' group: do the keys resolve, does the bucket
answer, and does this machine's clock agree with the server's?

HeadBucket is asked once per context (``ctx.head_bucket()``); its answer,
or its error, also carries the server's ``Date`` for the clock check. A 403
to HeadBucket has no body, so the cause (unknown key, wrong secret, token
without permission, skewed clock) is asked once more with a read-only
ListObjectsV2, whose error body names it.
"""

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from r2_toolkit.checks import commands
from r2_toolkit.checks.context import CheckContext, once
from r2_toolkit.checks.options import literal
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.credentials import plain_setting
from r2_toolkit.core.errors import describe, error_code, http_status
from r2_toolkit.core.redact import scrub

# SigV4 rejects requests signed more than 15 minutes away from the server's time.
SIGV4_LIMIT = 15 * 60
# The shape of an R2 S3 key pair: a 32-character key id and a 64-character
# secret (the SHA-256 of the API token). A secret of another length is
# usually the API token itself, pasted in the wrong place.
R2_KEY_ID_LENGTH = 32
R2_SECRET_LENGTH = 64
NEW_R2_TOKEN = (
    "create an R2 API token (dashboard > R2 > Manage R2 API Tokens) and set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from its S3 credentials"
)
NTP = (
    "Synchronise this machine's clock (timedatectl set-ntp true, chrony or ntpd; in a "
    "container, the host's clock): S3 signatures are rejected beyond 15 minutes of skew."
)


def key_names(ctx: CheckContext, which: str) -> str:
    """Where this alias's key comes from, for the operator to edit."""
    option = {"access": "access_key", "secret": "secret_key"}[which]
    return f"{plain_setting(option)} (or OPTIONS['{option}'] of STORAGES[{ctx.alias!r}])"


@check("r2.connectivity.credentials", kind="network")
def credentials(ctx: CheckContext) -> Outcome:
    """Storage credentials resolve.

    Catches: An access key without its secret (or the reverse), no credentials at all, or an R2
    API token pasted where the S3 secret belongs.

    Fix: Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the S3 credentials of an R2 API
    token (or an IAM user's key pair); both, from the same token.
    """
    # "network": with no keys in settings, boto3's chain may ask the
    # instance-metadata service.
    storage = ctx.storage()
    access, secret = storage.access_key, storage.secret_key
    if bool(access) != bool(secret):
        missing = "secret" if access else "access"
        present = "access" if access else "secret"
        return fail(
            f"The {missing} key is missing: {key_names(ctx, present)} is set but "
            f"{key_names(ctx, missing)} is not.",
            f"Set {key_names(ctx, missing)} from the same token or key pair as the {present} key.",
        )
    if access:
        if ctx.is_r2 and (len(access), len(secret)) != (R2_KEY_ID_LENGTH, R2_SECRET_LENGTH):
            return warn(
                f"The keys do not look like R2 S3 credentials: the access key id has "
                f"{len(access)} characters and the secret {len(secret)} (R2 issues "
                f"{R2_KEY_ID_LENGTH} and {R2_SECRET_LENGTH}); an API token value may have "
                "been pasted instead of the S3 secret.",
                f"Use the 'Access Key ID' and 'Secret Access Key' shown when the R2 API token "
                f"was created, not the token value; or {NEW_R2_TOKEN}.",
            )
        return ok("An access key and a secret key are set in the settings.", source="settings")
    import boto3  # here: every manage.py command imports this module

    session = boto3.Session(profile_name=storage.session_profile or None)
    found = session.get_credentials()
    if found is None or not found.access_key or not found.secret_key:
        return fail(
            "No credentials: neither the settings nor boto3's chain (environment, "
            "~/.aws, instance role) provide an access key and a secret key.",
            f"Set {key_names(ctx, 'access')} and {key_names(ctx, 'secret')}.",
        )
    return ok(f"Credentials resolve through boto3's chain ({found.method}).", source=found.method)


FORBIDDEN: dict[str | None, tuple[str, str]] = {
    "InvalidAccessKeyId": (
        "the access key id is not known to the server",
        "AWS_ACCESS_KEY_ID is wrong, or the token behind it was deleted or rolled: {new}.",
    ),
    "SignatureDoesNotMatch": (
        "the secret key does not match the access key",
        "AWS_SECRET_ACCESS_KEY is wrong (R2 shows the secret once, when the token is "
        "created): set it from the same token as AWS_ACCESS_KEY_ID, or {new}.",
    ),
    "RequestTimeTooSkewed": ("this machine's clock is too far from the server's", NTP),
}
NO_PERMISSION = (
    "the keys are valid but have no permission on bucket {bucket}",
    "Give the token access to this bucket: on R2 an API token with 'Object Read & Write' "
    "that includes {bucket} (dashboard > R2 > Manage R2 API Tokens > edit); on S3 an IAM "
    "policy allowing s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it.",
)


def diagnose_forbidden(ctx: CheckContext) -> tuple[str, str]:
    """(cause, fix) for a 403 to HeadBucket, from one read-only request whose
    error body names the reason."""
    try:
        ctx.client().list_objects_v2(Bucket=ctx.bucket, MaxKeys=1)
        code = None
    except ClientError as exc:
        code = error_code(exc)
    except Exception:
        code = None
    cause, fix = FORBIDDEN.get(code, NO_PERMISSION)
    return cause.format(bucket=ctx.bucket), fix.format(bucket=ctx.bucket, new=NEW_R2_TOKEN)


# --- jurisdictions ---------------------------------------------------------------
R2_ENDPOINT = re.compile(
    r"^(?P<scheme>https?)://(?P<account>[^./]+)(?:\.(?P<jurisdiction>eu|fedramp))?"
    r"(?P<rest>\.r2\.cloudflarestorage\.com(?::\d+)?)/?$",
    re.I,
)
JURISDICTIONS = (None, "eu", "fedramp")
JURISDICTION_NAMES = {
    None: "the default jurisdiction",
    "eu": "the EU jurisdiction",
    "fedramp": "FedRAMP",
}


def jurisdiction_endpoints(endpoint_url: str | None) -> dict[str | None, str]:
    """{jurisdiction: endpoint URL} of the same account in the other jurisdictions,
    or {} when ``endpoint_url`` is not an R2 account endpoint."""
    found = R2_ENDPOINT.match(endpoint_url or "")
    if not found:
        return {}
    return {
        j: f"{found['scheme']}://{found['account']}{'.' + j if j else ''}{found['rest']}"
        for j in JURISDICTIONS
        if j != endpoint_jurisdiction(endpoint_url)
    }


def endpoint_jurisdiction(endpoint_url: str | None) -> str | None:
    """ "eu", "fedramp" or None (the default) for an R2 endpoint URL."""
    found = R2_ENDPOINT.match(endpoint_url or "")
    return (found["jurisdiction"] or "").lower() or None if found else None


def bucket_answers_at(ctx: CheckContext, endpoint_url: str) -> bool:
    """Whether the bucket answers HeadBucket at ``endpoint_url`` (200, or 403: it
    exists there, the token may lack access), with this run's client settings."""
    storage = ctx.storage()
    client = storage.connection.meta.client
    import boto3

    probe = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id=storage.access_key,
        aws_secret_access_key=storage.secret_key,
        aws_session_token=storage.security_token,
        config=client.meta.config,
    )
    try:
        probe.head_bucket(Bucket=ctx.bucket)
        return True
    except ClientError as exc:
        return http_status(exc) == 403
    except Exception:
        return False


@once
def elsewhere(ctx: CheckContext) -> tuple[str | None, str] | None:
    """(jurisdiction, endpoint) where the missing bucket answers instead, or None.
    Asked only after a 404 from an R2 endpoint: one HeadBucket per other jurisdiction."""
    try:
        ctx.head_bucket()
        return None
    except ClientError as exc:
        if http_status(exc) != 404 and error_code(exc) != "NoSuchBucket":
            return None
    others = jurisdiction_endpoints(ctx.endpoint_url)
    for jurisdiction, url in others.items():
        if bucket_answers_at(ctx, url):
            return jurisdiction, url
    return None


@check("r2.connectivity.jurisdiction", kind="network")
def jurisdiction(ctx: CheckContext) -> Outcome:
    """R2: the endpoint is the bucket's jurisdiction.

    Catches: A bucket created in a jurisdiction (EU, FedRAMP) reached through the default
    endpoint (or the reverse): R2 answers 404 NoSuchBucket although the keys are valid.

    Fix: Set AWS_S3_ENDPOINT_URL to the bucket's jurisdiction endpoint: https://<account
    id>.eu.r2.cloudflarestorage.com (EU) or https://<account
    id>.fedramp.r2.cloudflarestorage.com (FedRAMP).

    Source: Cloudflare R2 docs, Data location (jurisdictional restrictions: 'you must specify
    the jurisdiction in your S3 endpoint') and Authentication
    """
    if not ctx.is_r2:
        raise Skip(f"not an R2 endpoint ({scrub(ctx.endpoint_url or 'Amazon S3')})")
    if not ctx.bucket:
        raise Skip("AWS_STORAGE_BUCKET_NAME is not set")
    current = endpoint_jurisdiction(ctx.endpoint_url)
    try:
        ctx.head_bucket()
    except ClientError as exc:
        if http_status(exc) != 404 and error_code(exc) != "NoSuchBucket":
            raise Skip("the bucket did not answer 404; see r2.connectivity.head_bucket") from exc
        found = elsewhere(ctx)
        if found is None:
            return ok(
                f"Bucket {ctx.bucket} is in no jurisdiction of this account either "
                "(see r2.connectivity.head_bucket)."
            )
        where, url = found
        return fail(
            f"Bucket {ctx.bucket} is in {JURISDICTION_NAMES[where]}, but the endpoint is "
            f"{JURISDICTION_NAMES[current]}'s, where R2 answers 404 NoSuchBucket.",
            f"AWS_S3_ENDPOINT_URL = {literal(scrub(url))} (a bucket's jurisdiction is fixed "
            "when it is created and only its own endpoint reaches it).",
            jurisdiction=where or "default",
        )
    except Skip:
        raise
    except Exception as exc:
        raise Skip("the bucket did not answer; see r2.connectivity.head_bucket") from exc
    return ok(
        f"Bucket {ctx.bucket} answers at {JURISDICTION_NAMES[current]}'s endpoint.",
        jurisdiction=current or "default",
    )


def missing_bucket_fix(ctx: CheckContext, bucket: str) -> str:
    """The fix for a 404 to HeadBucket of ``bucket`` (``ctx.bucket``, known to be set)."""
    found = elsewhere(ctx) if ctx.is_r2 else None
    if found:
        return (
            f"Set AWS_S3_ENDPOINT_URL = {literal(scrub(found[1]))}: the bucket is in "
            f"{JURISDICTION_NAMES[found[0]]} (see r2.connectivity.jurisdiction)."
        )
    if ctx.is_r2:
        return (
            f"Create it (`{commands.wrangler_create_bucket(bucket)}` or the dashboard) or "
            "correct AWS_STORAGE_BUCKET_NAME; the endpoint must be the account that owns "
            "it: https://<ACCOUNT_ID>.r2.cloudflarestorage.com, or "
            "https://<ACCOUNT_ID>.eu.r2.cloudflarestorage.com for an EU-jurisdiction "
            "bucket."
        )
    return f"Create bucket {ctx.bucket} or correct AWS_STORAGE_BUCKET_NAME and AWS_S3_ENDPOINT_URL."


@check("r2.connectivity.head_bucket", kind="network")
def head_bucket(ctx: CheckContext) -> Outcome:
    """The bucket answers HeadBucket.

    Catches: A missing or misspelt bucket, wrong keys, a token without permission on the bucket,
    an unreachable endpoint or one that does not answer in time.

    Fix: Follow the hint: it names the cause (404: bucket name or account; 403: keys or token
    permissions; no answer: AWS_S3_ENDPOINT_URL, DNS or firewall).
    """
    if not ctx.bucket:
        return fail(
            "AWS_STORAGE_BUCKET_NAME is not set, so there is no bucket to reach.",
            "Set AWS_STORAGE_BUCKET_NAME (or OPTIONS['bucket_name'] of "
            f"STORAGES[{ctx.alias!r}]) to the bucket's name.",
        )
    endpoint = scrub(ctx.endpoint_url or "the AWS default endpoint")
    where = f"bucket {ctx.bucket} at {endpoint}"
    try:
        ctx.head_bucket()
    except ClientError as exc:
        status = http_status(exc)
        if status == 404 or error_code(exc) == "NoSuchBucket":
            return fail(f"The {where} does not exist (404).", missing_bucket_fix(ctx, ctx.bucket))
        if status == 403:
            cause, fix = diagnose_forbidden(ctx)
            return fail(f"The server refused access to {where} (403): {cause}.", fix)
        return fail(
            f"HeadBucket on {where} failed: {describe(exc)}.",
            "Check AWS_S3_REGION_NAME ('auto' on R2) and AWS_S3_ENDPOINT_URL "
            "(https://<ACCOUNT_ID>.r2.cloudflarestorage.com on R2, no bucket in it).",
        )
    except (ConnectTimeoutError, ReadTimeoutError):
        return fail(
            f"{endpoint} did not answer within {ctx.timeout:g}s.",
            "Check that this host can reach AWS_S3_ENDPOINT_URL (DNS, firewall, "
            "proxy), or raise --timeout.",
        )
    except EndpointConnectionError:
        return fail(
            f"Nothing answers at {endpoint}: the connection was refused or the host "
            "name does not resolve.",
            "Check AWS_S3_ENDPOINT_URL (on R2: "
            "https://<ACCOUNT_ID>.r2.cloudflarestorage.com) and that this host can "
            "reach it.",
        )
    except SSLError as exc:
        return fail(
            f"The TLS handshake with {endpoint} failed: {describe(exc)}.",
            "Check that AWS_S3_ENDPOINT_URL uses https only where the server speaks "
            "TLS, and that this host trusts its certificate (ca-certificates).",
        )
    except (NoCredentialsError, PartialCredentialsError):
        return fail(
            "HeadBucket could not be signed: the credentials are incomplete.",
            "See r2.connectivity.credentials.",
        )
    return ok(f"The {where} answers.", bucket=ctx.bucket)


def server_date(ctx: CheckContext) -> datetime:
    """The server's Date header from the HeadBucket answer (success or error)."""
    try:
        headers = ctx.head_bucket()["ResponseMetadata"]["HTTPHeaders"]
    except ClientError as exc:  # a 403 still tells the time
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except Skip:
        raise
    except Exception as exc:
        raise Skip("the server did not answer; see r2.connectivity.head_bucket") from exc
    value = {k.lower(): v for k, v in headers.items()}.get("date")
    if not value:
        raise Skip("the server's answer has no Date header to compare the clock with")
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise Skip(f"the server's Date header {value!r} is not an HTTP date") from exc


def in_words(seconds: float) -> str:
    seconds = abs(round(seconds))
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds / 3600:.1f} hours"


@check("r2.connectivity.clock_skew", kind="network", fix=NTP)
def clock_skew(ctx: CheckContext) -> Outcome:
    """This machine's clock agrees with the server's.

    Catches: A clock far from the server's: signed requests and presigned URLs are rejected
    (RequestTimeTooSkewed) or expire early.
    """
    server = server_date(ctx)
    local = datetime.now(UTC)
    skew = (local - server).total_seconds()
    limit = toolkit_settings.MAX_CLOCK_SKEW
    details = {
        "skew_seconds": round(skew),
        "server_date": server.isoformat(),
        "local_date": local.replace(microsecond=0).isoformat(),
    }
    if abs(skew) > limit:
        direction = "ahead of" if skew > 0 else "behind"
        worse = (
            " S3 rejects every signed request beyond 15 minutes." if abs(skew) > SIGV4_LIMIT else ""
        )
        return fail(
            f"This machine's clock is {in_words(skew)} {direction} the server's "
            f"(more than R2_TOOLKIT['MAX_CLOCK_SKEW'] = {limit:g}s).{worse}",
            NTP,
            **details,
        )
    return ok(f"This machine's clock is within {in_words(skew)} of the server's.", **details)
