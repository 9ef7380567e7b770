"""The 'settings' checks: each fails for its real cause and passes once fixed.

No server is needed: URLs are built and presigned locally by the same boto3
and django-storages code the app runs, and the checks run through run_checks
as r2_check runs them.
"""

import pytest
from botocore.config import Config
from django.core.files.storage import storages

from r2_toolkit import checks  # noqa: F401  (registers every check)
from r2_toolkit.checks import settings as settings_checks
from r2_toolkit.checks import settings_client
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import run_checks
from r2_toolkit.core.compat import HAS_FLEXIBLE_CHECKSUMS, checksum_options
from tests.conftest import reset_storage_cache

ACCOUNT = "0123456789abcdef0123456789abcdef"
R2_ENDPOINT = f"https://{ACCOUNT}.r2.cloudflarestorage.com"
S3 = "storages.backends.s3.S3Storage"
STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# The two Config options exist from botocore 1.36 on (compat passes them only there).
CHECKSUMS = checksum_options(
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)
needs_flexible_checksums = pytest.mark.skipif(
    not HAS_FLEXIBLE_CHECKSUMS, reason="botocore < 1.36 sends no default checksums"
)


def results(*check_ids):
    return run_checks([REGISTRY[i] for i in check_ids], timeout=10)


def result(check_id, alias="default"):
    """The result of one check for one alias, run as r2_check runs it."""
    return next(r for r in results(check_id) if r.details.get("storage") == alias)


def settings_group():
    return [c.id for c in REGISTRY.values() if c.group == "settings"]


@pytest.fixture(autouse=True)
def fresh_storages(monkeypatch):
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION", raising=False)
    reset_storage_cache()
    yield
    reset_storage_cache()


@pytest.fixture
def r2(settings):
    """A correct configuration for a public R2 bucket behind a custom domain."""
    settings.AWS_S3_ENDPOINT_URL = R2_ENDPOINT
    settings.AWS_STORAGE_BUCKET_NAME = "user-images"
    settings.AWS_S3_REGION_NAME = "auto"
    settings.AWS_S3_CUSTOM_DOMAIN = "media.example.com"
    settings.AWS_S3_URL_PROTOCOL = "https:"
    settings.AWS_QUERYSTRING_AUTH = False
    settings.AWS_DEFAULT_ACL = None
    return settings


def test_the_local_defaults_pass_every_settings_check():
    bad = [r for r in results(*settings_group()) if r.status not in ("pass", "skip")]
    assert not bad, [(r.id, r.message) for r in bad]


def test_a_correct_r2_configuration_passes_every_settings_check(r2):
    outcome = {r.id: r.status for r in results(*settings_group())}
    if not HAS_FLEXIBLE_CHECKSUMS:  # nothing to configure where botocore sends none
        assert outcome.pop("r2.settings.checksums") == "skip"
    assert set(outcome.values()) == {"pass"}, outcome


def test_r2_only_checks_skip_on_other_endpoints_with_a_reason():
    skipped = result("r2.settings.region")
    assert skipped.status == "skip"
    assert "not an R2 endpoint" in skipped.message


# --- where the storage is -------------------------------------------------
@pytest.mark.parametrize("name", [None, "", "My_Bucket", "ab"])
def test_an_unset_or_invalid_bucket_name_fails(settings, name):
    settings.AWS_STORAGE_BUCKET_NAME = name
    broken = result("r2.settings.bucket_name")
    assert broken.status == "fail"
    assert "AWS_STORAGE_BUCKET_NAME" in broken.hint

    settings.AWS_STORAGE_BUCKET_NAME = "my-bucket"
    assert result("r2.settings.bucket_name").status == "pass"


def test_r2_bucket_names_have_no_dots(r2):
    r2.AWS_STORAGE_BUCKET_NAME = "media.example.com"
    assert result("r2.settings.bucket_name").status == "fail"


@pytest.mark.parametrize(
    "endpoint, problem",
    [
        (f"http://{ACCOUNT}.r2.cloudflarestorage.com", "https"),
        ("https://myaccount.r2.cloudflarestorage.com", "32-character hex account id"),
        (f"https://{ACCOUNT}.r2.cloudflarestorage.com/user-images", "/user-images"),
    ],
)
def test_a_wrong_r2_endpoint_fails_with_the_corrected_url(r2, endpoint, problem):
    r2.AWS_S3_ENDPOINT_URL = endpoint
    broken = result("r2.settings.endpoint")
    assert broken.status == "fail"
    assert problem in broken.message
    if "myaccount" in endpoint:
        assert (
            broken.hint == 'AWS_S3_ENDPOINT_URL = "https://<account id>.r2.cloudflarestorage.com"'
        )
    else:
        assert broken.hint == f'AWS_S3_ENDPOINT_URL = "{R2_ENDPOINT}"'

    r2.AWS_S3_ENDPOINT_URL = R2_ENDPOINT
    assert result("r2.settings.endpoint").status == "pass"


@pytest.mark.parametrize("jurisdiction", ["eu", "fedramp"])
def test_r2_jurisdiction_endpoints_are_r2(r2, jurisdiction):
    r2.AWS_S3_ENDPOINT_URL = f"https://{ACCOUNT}.{jurisdiction}.r2.cloudflarestorage.com"
    assert result("r2.settings.endpoint").details["jurisdiction"] == jurisdiction
    assert result("r2.settings.region").status == "pass"  # an R2 check, not skipped


@pytest.mark.parametrize("endpoint", ["not a url", "ftp://files.example.com", "http://[::1"])
def test_a_malformed_endpoint_fails_in_words(settings, endpoint):
    settings.AWS_S3_ENDPOINT_URL = endpoint
    broken = result("r2.settings.endpoint")
    assert broken.status == "fail"
    assert repr(endpoint) in broken.message
    assert "Traceback" not in broken.message


def test_an_aws_region_on_r2_fails_until_auto(r2):
    r2.AWS_S3_REGION_NAME = "eu-west-1"
    broken = result("r2.settings.region")
    assert broken.status == "fail"
    assert broken.hint == 'AWS_S3_REGION_NAME = "auto"'

    r2.AWS_S3_REGION_NAME = "us-east-1"  # R2 aliases it to auto: works, but say so
    assert result("r2.settings.region").status == "warn"

    r2.AWS_S3_REGION_NAME = "auto"
    assert result("r2.settings.region").status == "pass"


def test_acls_on_r2_fail_until_removed(r2):
    r2.AWS_DEFAULT_ACL = "public-read"
    r2.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "max-age=60", "ACL": "public-read"}
    broken = result("r2.settings.acl")
    assert broken.status == "fail"
    assert "AWS_DEFAULT_ACL" in broken.message
    assert 'AWS_S3_OBJECT_PARAMETERS["ACL"]' in broken.hint
    assert "custom domain" in broken.hint.lower()

    r2.AWS_DEFAULT_ACL = None
    r2.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "max-age=60"}
    assert result("r2.settings.acl").status == "pass"


def test_acls_are_fine_on_other_stores(settings):
    settings.AWS_DEFAULT_ACL = "public-read"
    assert result("r2.settings.acl").status == "skip"


def test_every_s3_alias_is_checked_and_the_hint_names_its_options(r2):
    r2.STORAGES = {
        "default": {"BACKEND": S3},
        "private": {
            "BACKEND": S3,
            "OPTIONS": {
                "bucket_name": "private-files",
                "default_acl": "private",
                "querystring_auth": True,
                "custom_domain": None,
            },
        },
        "staticfiles": STATICFILES,
    }
    by_alias = {r.details["storage"]: r for r in results("r2.settings.acl")}
    assert by_alias["default"].status == "pass"
    assert by_alias["private"].status == "fail"
    assert 'STORAGES["private"]["OPTIONS"]["default_acl"]' in by_alias["private"].hint
    # A private second bucket is meant to sign its URLs.
    assert result("r2.settings.public_url", alias="private").status == "pass"


# --- how URLs are built ----------------------------------------------------
@pytest.mark.parametrize(
    "domain", ["https://media.example.com", "media.example.com/", "https://media.example.com/"]
)
def test_a_custom_domain_with_scheme_or_slash_fails(r2, domain):
    r2.AWS_S3_CUSTOM_DOMAIN = domain
    broken = result("r2.settings.custom_domain")
    assert broken.status == "fail"
    assert broken.hint == 'AWS_S3_CUSTOM_DOMAIN = "media.example.com"'

    r2.AWS_S3_CUSTOM_DOMAIN = "media.example.com"
    assert result("r2.settings.custom_domain").status == "pass"


@pytest.mark.parametrize("protocol", ["https", "https://", "ftp:"])
def test_a_url_protocol_without_colon_fails(r2, protocol):
    r2.AWS_S3_URL_PROTOCOL = protocol
    broken = result("r2.settings.url_protocol")
    assert broken.status == "fail"
    assert broken.hint == 'AWS_S3_URL_PROTOCOL = "https:"'

    r2.AWS_S3_URL_PROTOCOL = "https:"
    assert result("r2.settings.url_protocol").status == "pass"


def test_a_location_with_a_leading_slash_fails_where_it_is_written(settings):
    settings.AWS_LOCATION = "/media"
    assert result("r2.settings.location").hint == 'AWS_LOCATION = "media"'

    settings.STORAGES = {
        "default": {"BACKEND": S3, "OPTIONS": {"location": "/media"}},
        "staticfiles": STATICFILES,
    }
    broken = result("r2.settings.location")
    assert broken.status == "fail"
    assert broken.hint == 'STORAGES["default"]["OPTIONS"]["location"] = "media"'

    settings.STORAGES = {
        "default": {"BACKEND": S3, "OPTIONS": {"location": "media"}},
        "staticfiles": STATICFILES,
    }
    assert result("r2.settings.location").status == "pass"


@pytest.mark.parametrize("seconds", [700000, 0, "3600"])
def test_presigned_url_lifetime_beyond_seven_days_or_not_a_number_fails(settings, seconds):
    settings.AWS_QUERYSTRING_EXPIRE = seconds
    broken = result("r2.settings.querystring_expire")
    assert broken.status == "fail"
    assert broken.hint == "AWS_QUERYSTRING_EXPIRE = 3600"

    settings.AWS_QUERYSTRING_EXPIRE = 604800
    assert result("r2.settings.querystring_expire").status == "pass"


def test_a_client_config_without_sigv4_presigns_sigv2_and_fails(r2):
    # django-storages ignores AWS_S3_SIGNATURE_VERSION once a client config is
    # set, and botocore then presigns with SigV2 in us-east-1 (a region R2
    # accepts): the project's own settings had this bug.
    r2.AWS_S3_REGION_NAME = "us-east-1"
    r2.AWS_S3_SIGNATURE_VERSION = "s3v4"
    r2.AWS_S3_CLIENT_CONFIG = Config(**CHECKSUMS)
    r2.AWS_S3_CUSTOM_DOMAIN = None
    r2.AWS_QUERYSTRING_AUTH = True
    assert "AWSAccessKeyId=" in storages["default"].url("a.jpg")  # what users would get
    broken = result("r2.settings.signature")
    assert broken.status == "fail"
    assert "SigV2" in broken.message
    assert 'signature_version="s3v4"' in broken.hint and "AWS_S3_CLIENT_CONFIG" in broken.hint

    r2.AWS_S3_CLIENT_CONFIG = Config(signature_version="s3v4", **CHECKSUMS)
    reset_storage_cache()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in storages["default"].url("a.jpg")
    assert result("r2.settings.signature").status == "pass"


def test_signature_version_s3_without_client_config_fails(settings):
    settings.AWS_S3_CLIENT_CONFIG = None
    settings.AWS_S3_SIGNATURE_VERSION = "s3"
    broken = result("r2.settings.signature")
    assert broken.status == "fail"
    assert broken.hint == 'AWS_S3_SIGNATURE_VERSION = "s3v4"'

    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    assert result("r2.settings.signature").status == "pass"


def test_querystring_auth_with_a_custom_domain_fails_on_r2(r2):
    r2.AWS_QUERYSTRING_AUTH = True
    broken = result("r2.settings.signed_custom_domain")
    assert broken.status == "fail"
    assert "cannot presign custom domains" in broken.message
    assert "AWS_QUERYSTRING_AUTH = False" in broken.hint

    r2.AWS_QUERYSTRING_AUTH = False
    assert result("r2.settings.signed_custom_domain").status == "pass"


def test_querystring_auth_with_a_custom_domain_warns_elsewhere(settings):
    settings.AWS_QUERYSTRING_AUTH = True
    assert result("r2.settings.signed_custom_domain").status == "warn"


def test_an_r2_dev_domain_warns_in_production_only(r2):
    r2.AWS_S3_CUSTOM_DOMAIN = "pub-0123456789abcdef.r2.dev"
    r2.DEBUG = False
    warned = result("r2.settings.r2_dev_domain")
    assert warned.status == "warn"
    assert "rate-limits" in warned.message
    assert 'AWS_S3_CUSTOM_DOMAIN = "media.example.com"' in warned.hint

    r2.DEBUG = True
    assert result("r2.settings.r2_dev_domain").status == "pass"


def test_url_on_the_private_r2_endpoint_fails_until_the_custom_domain_is_set(r2):
    # The seed app's fault: no custom domain, so url() pointed at the endpoint.
    r2.AWS_S3_CUSTOM_DOMAIN = None
    broken = result("r2.settings.public_url")
    assert broken.status == "fail"
    assert "private R2 endpoint" in broken.message
    assert f"{ACCOUNT}.r2.cloudflarestorage.com" in broken.details["url"]
    assert 'AWS_S3_CUSTOM_DOMAIN = "media.example.com"' in broken.hint

    r2.AWS_S3_CUSTOM_DOMAIN = "media.example.com"
    fixed = result("r2.settings.public_url")
    assert fixed.status == "pass"
    assert fixed.details["url"] == ("https://media.example.com/" + settings_checks.SAMPLE_KEY)


def test_a_signed_default_url_fails_and_never_shows_the_signature(r2):
    r2.AWS_S3_CUSTOM_DOMAIN = None
    r2.AWS_QUERYSTRING_AUTH = True
    r2.AWS_S3_ENDPOINT_URL = "https://s3.example.net"
    broken = result("r2.settings.public_url")
    assert broken.status == "fail"
    assert "expires after 3600 seconds" in broken.message
    assert "X-Amz-Signature=[redacted]" in broken.details["url"]


def test_an_endpoint_url_on_another_store_warns(settings):
    settings.AWS_S3_CUSTOM_DOMAIN = None
    warned = result("r2.settings.public_url")
    assert warned.status == "warn"
    assert "AWS_S3_CUSTOM_DOMAIN" in warned.hint


# --- the client's behaviour ------------------------------------------------
@pytest.mark.skipif(HAS_FLEXIBLE_CHECKSUMS, reason="botocore >= 1.36: see the tests below")
def test_checksums_are_not_applicable_where_botocore_sends_none(r2):
    outcome = result("r2.settings.checksums")
    assert outcome.status == "skip"
    assert outcome.message.startswith("not applicable: botocore 1.")


@needs_flexible_checksums
def test_default_checksums_fail_on_r2_until_when_required(r2):
    r2.AWS_S3_CLIENT_CONFIG = Config(signature_version="s3v4")
    broken = result("r2.settings.checksums")
    assert broken.status == "fail"
    assert "when_supported" in broken.message
    assert (
        'AWS_S3_CLIENT_CONFIG = Config(request_checksum_calculation="when_required"' in broken.hint
    )

    r2.AWS_S3_CLIENT_CONFIG = Config(signature_version="s3v4", **CHECKSUMS)
    assert result("r2.settings.checksums").status == "pass"


@needs_flexible_checksums
def test_default_checksums_warn_on_other_compatible_stores_and_pass_on_aws(settings):
    settings.AWS_S3_CLIENT_CONFIG = Config(signature_version="s3v4")
    assert result("r2.settings.checksums").status == "warn"

    settings.AWS_S3_ENDPOINT_URL = None
    assert result("r2.settings.checksums").status == "pass"


@needs_flexible_checksums
def test_an_old_s3transfer_ignores_when_required_and_fails_on_r2(r2, monkeypatch):
    # Installing an old s3transfer is not possible here; its version is the input.
    real = settings_client.installed_version
    monkeypatch.setattr(
        settings_client,
        "installed_version",
        lambda dist: (0, 11, 1) if dist == "s3transfer" else real(dist),
    )
    broken = result("r2.settings.checksums")
    assert broken.status == "fail"
    assert "s3transfer 0.11.1" in broken.message
    assert broken.hint == 'pip install "s3transfer>=0.11.2"'
