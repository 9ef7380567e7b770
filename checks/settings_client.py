"""Checks of the 'settings' group, continued: the client's behaviour
(checksums), what uploads carry (object parameters) and which credential is
used."""

from django.conf import settings

from r2_toolkit.checks import r2_params
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.options import dotted, literal, sentence, setting_path, storage_options
from r2_toolkit.checks.registry import Outcome, Skip, check, fail, ok, warn
from r2_toolkit.checks.settings import (
    CHECKSUM_CONFIG,
    SAMPLE_KEY,
    built,
    has_keys,
    is_r2,
    require_r2,
)
from r2_toolkit.core.compat import HAS_FLEXIBLE_CHECKSUMS, checksum_calculation, installed_version
from r2_toolkit.core.credentials import CREDENTIALS, credential_sources


# --- the client's behaviour ------------------------------------------------
@check(
    "r2.settings.checksums",
    fix=f"Set AWS_S3_CLIENT_CONFIG = {CHECKSUM_CONFIG} (from botocore.config import Config), "
    "with s3transfer >= 0.11.2.",
)
def checksums(ctx: CheckContext) -> Outcome:
    """Checksums only when required (botocore >= 1.36).

    Catches: botocore >= 1.36 sending CRC32 checksum headers on every upload, which R2 and other
    S3-compatible stores have rejected.
    """
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
    calculation = checksum_calculation(client)
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
@check("r2.settings.object_parameters")
def object_parameters(ctx: CheckContext) -> Outcome:
    """R2: uploads carry only object parameters R2 takes.

    Catches: AWS_S3_OBJECT_PARAMETERS (or a storage's get_object_parameters) asking for a
    StorageClass other than STANDARD or STANDARD_IA, SSE-KMS or SSE-S3, tagging or object lock:
    R2 answers 501 NotImplemented and every upload fails.

    Fix: Remove those keys from AWS_S3_OBJECT_PARAMETERS (keep CacheControl, ContentDisposition
    and the like); use StorageClass STANDARD or STANDARD_IA, and R2's own encryption, bucket
    locks and lifecycle rules instead.

    Source: Cloudflare R2 docs, S3 API compatibility (PutObject and CreateMultipartUpload
    features)
    """
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


# --- which credential is used (django-storages' precedence: core.credentials) --
@check("r2.settings.credential_conflict")
def credential_conflict(ctx: CheckContext) -> Outcome:
    """Each credential is set in one place, or the same everywhere.

    Catches: Two settings for one credential that disagree: AWS_S3_SECRET_ACCESS_KEY outranks
    AWS_SECRET_ACCESS_KEY (and AWS_S3_ACCESS_KEY_ID outranks AWS_ACCESS_KEY_ID), so requests are
    signed with the other secret and fail with signature errors.

    Fix: Keep each credential in one setting: delete the outranking one
    (AWS_S3_SECRET_ACCESS_KEY, AWS_S3_ACCESS_KEY_ID, or the OPTIONS key) or give it the same
    value.

    Source: jschneier/django-storages storages/backends/s3.py get_default_settings
    (AWS_S3_ACCESS_KEY_ID / AWS_S3_SECRET_ACCESS_KEY are read before AWS_*); CHANGELOG 1.12
    (#1026, the AWS_S3_* names) and 1.14.3 (#1336, their environment lookup)
    """
    conflicts = []
    for what in CREDENTIALS:
        sources = credential_sources(ctx.alias, storage_options(ctx.alias), settings, what)
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
