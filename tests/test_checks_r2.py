"""The R2-specific checks against a server that behaves as R2 does
(tests/support/r2_faithful.py): each fault set up for real, the check catches
it in its group with its fix, and the fix works on that server."""

import json

import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile

from r2_toolkit.checks.registry import select
from r2_toolkit.checks.runner import run_checks
from tests.conftest import OBJECT_ONLY_KEY, ORIGIN, reset_storage_cache
from tests.support.r2_faithful import CustomDomain

pytestmark = pytest.mark.django_db


def run(*ids):
    return {r.id: r for r in run_checks(select(only=ids), aliases=["default"], timeout=20)}


def upload(name="users/alice/images/a.jpg", data=b"\xff\xd8\xff probe"):
    """An upload as the app makes it: through default_storage."""
    from django.core.files.storage import default_storage

    reset_storage_cache()
    return default_storage.save(name, ContentFile(data))


# --- object parameters -----------------------------------------------------------
@pytest.mark.parametrize(
    "parameters, named",
    [
        ({"StorageClass": "GLACIER"}, "StorageClass"),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/media"}, "ServerSideEncryption"),
        ({"Tagging": "team=media"}, "Tagging"),
        ({"ObjectLockMode": "GOVERNANCE"}, "ObjectLockMode"),
    ],
)
def test_object_parameters_r2_refuses_fail_with_the_dict_to_write(
    settings, r2_bucket, parameters, named
):
    settings.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "max-age=60", **parameters}
    with pytest.raises(ClientError) as refused:  # what the site meets on R2
        upload()
    assert refused.value.response["Error"]["Code"] == "NotImplemented"

    results = run("r2.settings.object_parameters", "r2.roundtrip.upload")
    result = results["r2.settings.object_parameters"]
    probe = results["r2.roundtrip.upload"]
    assert probe.status == "fail" and "NotImplemented" in probe.message
    assert "r2.settings.object_parameters" in probe.hint

    assert result.status == "fail"
    assert named in result.message and "501 NotImplemented" in result.message
    assert result.hint.startswith("AWS_S3_OBJECT_PARAMETERS = {'CacheControl': 'max-age=60'}") or (
        'AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "max-age=60"}' in result.hint
    )
    # The fix, applied, uploads.
    settings.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "max-age=60"}
    assert upload()
    assert run("r2.settings.object_parameters")["r2.settings.object_parameters"].status == "pass"


def test_standard_ia_is_a_storage_class_r2_takes(settings, r2_bucket):
    settings.AWS_S3_OBJECT_PARAMETERS = {"StorageClass": "STANDARD_IA"}
    assert upload()
    assert run("r2.settings.object_parameters")["r2.settings.object_parameters"].status == "pass"


# --- jurisdictions -----------------------------------------------------------------
def test_eu_bucket_through_the_default_endpoint_is_named_with_its_endpoint(settings, r2_bucket):
    r2_bucket.server.place(r2_bucket.name, "eu")
    eu_endpoint = r2_bucket.server.r2_endpoint("eu")

    results = run("r2.connectivity.head_bucket", "r2.connectivity.jurisdiction")

    head, where = results["r2.connectivity.head_bucket"], results["r2.connectivity.jurisdiction"]
    assert head.status == "fail" and "(404)" in head.message
    assert eu_endpoint in head.hint
    assert where.status == "fail"
    assert "is in the EU jurisdiction" in where.message and "404 NoSuchBucket" in where.message
    assert where.hint.startswith(f'AWS_S3_ENDPOINT_URL = "{eu_endpoint}"')
    # The fix.
    settings.AWS_S3_ENDPOINT_URL = eu_endpoint
    reset_storage_cache()
    fixed = run("r2.connectivity.head_bucket", "r2.connectivity.jurisdiction")
    assert {r.status for r in fixed.values()} == {"pass"}


def test_other_jurisdictions_are_asked_only_after_a_404(r2_bucket):
    server = r2_bucket.server
    before = len(server.requests)
    results = run("r2.connectivity.head_bucket", "r2.connectivity.jurisdiction")
    assert {r.status for r in results.values()} == {"pass"}
    hosts = {host for _, host, _ in server.requests[before:]}
    assert not any(".eu." in host or ".fedramp." in host for host in hosts)


def test_a_bucket_in_no_jurisdiction_is_just_missing(settings, r2_bucket):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-anywhere"
    reset_storage_cache()
    results = run("r2.connectivity.head_bucket", "r2.connectivity.jurisdiction")
    assert results["r2.connectivity.head_bucket"].status == "fail"
    assert "wrangler r2 bucket create" in results["r2.connectivity.head_bucket"].hint
    assert results["r2.connectivity.jurisdiction"].status == "pass"


# --- token scope -------------------------------------------------------------------
def test_object_only_token_is_named_as_the_token_scope_not_wrong_rules(settings, r2_bucket):
    settings.AWS_ACCESS_KEY_ID = OBJECT_ONLY_KEY
    reset_storage_cache()
    cors_ids = [c.id for c in select() if c.group == "cors"]

    results = run("r2.connectivity.head_bucket", *cors_ids)

    assert results["r2.connectivity.head_bucket"].status == "pass"
    readable = results["r2.cors.rules_readable"]
    assert readable.status == "warn"
    assert (
        "the token's scope" in readable.message
        and "not wrong keys or wrong rules" in readable.message
    )
    assert "Admin Read" in readable.hint
    for check_id in ("r2.cors.put_allowed", "r2.cors.get_allowed", "r2.cors.etag_exposed"):
        assert results[check_id].status == "skip", check_id
        assert "its scope, not the rules" in results[check_id].message
    assert results["r2.cors.preflight_live"].status == "pass"
    assert not [r for r in results.values() if r.status == "fail"]


# --- wildcard ports ----------------------------------------------------------------------
WILDCARD_RULES = [
    {"AllowedOrigins": ["http://localhost:*", ORIGIN], "AllowedMethods": ["GET", "PUT"]}
]


def test_r2_refuses_a_rule_set_with_a_wildcard_port(r2_bucket):
    with pytest.raises(ClientError) as refused:
        r2_bucket.client.put_bucket_cors(
            Bucket=r2_bucket.name, CORSConfiguration={"CORSRules": WILDCARD_RULES}
        )
    assert refused.value.response["Error"]["Code"] == "MalformedXML"


def test_wildcard_port_in_the_rules_is_named_and_the_hint_is_a_rule_set_r2_takes(
    r2_bucket, moto_server
):
    # Rules written where a wildcard port is accepted (moto, as AWS S3 takes them).
    moto_server.client().put_bucket_cors(
        Bucket=r2_bucket.name, CORSConfiguration={"CORSRules": WILDCARD_RULES}
    )

    result = run("r2.cors.origins_wellformed")["r2.cors.origins_wellformed"]

    assert result.status == "fail"
    assert "'http://localhost:*' has a wildcard port" in result.message
    assert "MalformedXML" in result.message
    pasted = json.loads(
        result.hint.split("(your other rules are kept):\n", 1)[1].split("\nOn R2")[0]
    )
    assert not any("localhost:*" in o for rule in pasted for o in rule["AllowedOrigins"])
    r2_bucket.client.put_bucket_cors(  # R2 takes the corrected set
        Bucket=r2_bucket.name, CORSConfiguration={"CORSRules": pasted}
    )


def test_wildcard_port_in_the_configured_origins_is_named(settings, r2_bucket):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": ["http://localhost:*"]}
    result = run("r2.cors.origins_wellformed")["r2.cors.origins_wellformed"]
    assert result.status == "fail"
    assert "has a wildcard port" in result.message and "http://localhost:3000" in result.message


# --- the custom domain ------------------------------------------------------------------
def test_custom_domain_that_drops_cors_headers_fails_public_cors(settings, r2_bucket):
    with CustomDomain(r2_bucket.server.url, drop_cors=True) as domain:
        settings.AWS_S3_CUSTOM_DOMAIN = f"{domain.host}/{r2_bucket.name}"
        reset_storage_cache()
        results = run(*[c.id for c in select() if c.group == "roundtrip"])
    public_cors = results["r2.roundtrip.public_cors"]
    assert results["r2.roundtrip.public_url"].status == "pass"  # the bytes arrive...
    assert public_cors.status == "fail"  # ...but a browser's script cannot read them
    assert "answers browsers differently from the S3 host" in public_cors.message
    assert ORIGIN in public_cors.message
    assert "purge" in public_cors.hint and "30 seconds" in public_cors.hint
    assert "Hotlink Protection" in public_cors.hint
    assert results["r2.roundtrip.cleanup"].status == "pass"


def test_custom_domain_that_answers_as_the_s3_host_passes(settings, r2_bucket):
    with CustomDomain(r2_bucket.server.url) as domain:
        settings.AWS_S3_CUSTOM_DOMAIN = f"{domain.host}/{r2_bucket.name}"
        reset_storage_cache()
        results = run(*[c.id for c in select() if c.group == "roundtrip"])
        fetched = domain.paths
    assert results["r2.roundtrip.public_cors"].status == "pass"
    assert results["r2.roundtrip.public_url"].status == "pass"
    # The probe was fetched through the public domain, and the domain was preflighted.
    assert {"GET", "OPTIONS"} <= {method for method, _ in fetched}


# --- objects stored without their metadata ----------------------------------------------
def test_objects_uploaded_by_hand_without_metadata_warn_with_the_command(settings, r2_bucket):
    upload("users/alice/images/by-app.jpg")  # through the storage: right headers
    r2_bucket.client.put_object(  # by an old script: no Content-Type, no Cache-Control
        Bucket=r2_bucket.name, Key="users/bob/images/by-hand.jpg", Body=b"\xff\xd8\xff"
    )

    result = run("r2.connectivity.object_metadata")["r2.connectivity.object_metadata"]

    assert result.status == "warn"
    assert "users/bob/images/by-hand.jpg" in result.message
    assert "users/alice/images/by-app.jpg" not in result.message
    assert "instead of 'image/jpeg'" in result.message
    assert "Cache-Control None instead of 'public, max-age=31536000, immutable'" in result.message
    assert "--metadata-directive REPLACE --content-type image/jpeg" in result.hint
    assert "--cache-control 'public, max-age=31536000, immutable'" in result.hint
    assert r2_bucket.server.secret_key not in result.message + result.hint


def test_object_metadata_writes_nothing(r2_bucket):
    upload()
    before = [m for m, _, _ in r2_bucket.server.requests]
    run("r2.connectivity.object_metadata")
    after = [m for m, _, _ in r2_bucket.server.requests[len(before) :]]
    assert set(after) <= {"GET", "HEAD"}


# --- the whole gate on the R2-faithful server ------------------------------------------
def test_healthy_r2_bucket_fails_nothing_but_the_plain_http_endpoint(r2_bucket):
    results = run_checks(select(), aliases=["default"], timeout=30)
    failing = {r.id: r.message for r in results if r.status == "fail"}
    # The test server speaks plain http; real R2 only https.
    assert set(failing) == {"r2.settings.endpoint"}, failing
    assert "R2 only answers over https" in failing["r2.settings.endpoint"]
