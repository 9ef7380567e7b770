"""Property tests of the R2 rules where input is open: object parameter dicts,
CORS origins (the corrected rule set must be one R2 takes) and object keys
(which names R2 stores as one object)."""

import unicodedata
from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from r2_toolkit.checks import r2_params
from r2_toolkit.checks.cors_rules import origin_problem, recommended_rules, wildcard_port
from r2_toolkit.checks.schema_fields import collapsing_groups
from tests.support.r2_faithful import cors_refusal, unimplemented_header

PARAMETER_NAMES = st.sampled_from(
    [
        "CacheControl",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "Expires",
        "Metadata",
        "StorageClass",
        *r2_params.UNSUPPORTED,
        "SSECustomerAlgorithm",
    ]
)
VALUES = st.one_of(
    st.sampled_from(["STANDARD", "STANDARD_IA", "GLACIER", "DEEP_ARCHIVE", "standard", "aws:kms"]),
    st.text(max_size=20),
)
PARAMETERS = st.dictionaries(PARAMETER_NAMES, VALUES, max_size=8)
# What boto3 sends for each parameter: the header the R2-faithful server reads.
HEADERS = {
    "StorageClass": "x-amz-storage-class",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "SSEKMSEncryptionContext": "x-amz-server-side-encryption-context",
    "BucketKeyEnabled": "x-amz-server-side-encryption-bucket-key-enabled",
    "Tagging": "x-amz-tagging",
    "ObjectLockMode": "x-amz-object-lock-mode",
    "ObjectLockRetainUntilDate": "x-amz-object-lock-retain-until-date",
    "ObjectLockLegalHoldStatus": "x-amz-object-lock-legal-hold",
    "WebsiteRedirectLocation": "x-amz-website-redirect-location",
    "RequestPayer": "x-amz-request-payer",
    "GrantFullControl": "x-amz-grant-full-control",
    "GrantRead": "x-amz-grant-read",
    "GrantReadACP": "x-amz-grant-read-acp",
    "GrantWriteACP": "x-amz-grant-write-acp",
}


@given(PARAMETERS)
def test_accepted_parameters_have_no_problem_and_keep_everything_else(parameters):
    accepted = r2_params.accepted(parameters)
    assert r2_params.problems(accepted) == []
    refused = {name for name, _ in r2_params.problems(parameters)}
    assert set(accepted) == set(parameters) - refused
    assert all(accepted[k] == parameters[k] for k in accepted)


@given(PARAMETERS)
def test_the_check_and_the_r2_faithful_server_agree_on_every_parameter_dict(parameters):
    headers = {HEADERS[k]: str(v) for k, v in parameters.items() if k in HEADERS}
    refused_by_server = unimplemented_header(headers) is not None
    assert refused_by_server == bool(r2_params.problems(parameters)) or (
        # ExpectedBucketOwner is no upload header R2 reads; the check still asks to drop it.
        "ExpectedBucketOwner" in parameters and not refused_by_server
    )


HOSTS = st.sampled_from(
    ["localhost", "app.example.com", "*.example.com", "127.0.0.1", "Example.COM"]
)
PORTS = st.one_of(st.just(""), st.sampled_from([":3000", ":*", ":8080", ":x"]))
SCHEMES = st.sampled_from(["http://", "https://", ""])
SUFFIXES = st.sampled_from(["", "/", "/path", " "])
ORIGINS = st.one_of(
    st.builds(lambda s, h, p, x: s + h + p + x, SCHEMES, HOSTS, PORTS, SUFFIXES),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)
RULES = st.lists(
    st.fixed_dictionaries(
        {
            "AllowedOrigins": st.lists(ORIGINS, min_size=1, max_size=3),
            "AllowedMethods": st.lists(st.sampled_from(["GET", "PUT", "HEAD"]), min_size=1),
        }
    ),
    max_size=3,
)


def as_xml(rules):
    root = ET.Element("CORSConfiguration")
    for rule in rules:
        element = ET.SubElement(root, "CORSRule")
        for origin in rule["AllowedOrigins"]:
            ET.SubElement(element, "AllowedOrigin").text = origin
        for method in rule["AllowedMethods"]:
            ET.SubElement(element, "AllowedMethod").text = method
    return ET.tostring(root)


@given(RULES, st.lists(ORIGINS, max_size=3))
def test_the_corrected_rule_set_for_r2_is_one_r2_takes(rules, origins):
    corrected = recommended_rules(rules, origins, r2=True)
    assert cors_refusal(as_xml(corrected)) is None
    for rule in corrected:
        for origin in rule["AllowedOrigins"]:
            assert not wildcard_port(origin)


@given(ORIGINS)
def test_a_wildcard_port_is_never_a_browser_origin_and_never_a_rule_on_r2(origin):
    if wildcard_port(origin):
        assert origin_problem(origin)
        assert origin_problem(origin, pattern=True, r2=True)
        assert cors_refusal(as_xml([{"AllowedOrigins": [origin], "AllowedMethods": ["GET"]}]))


NAMES = st.text(alphabet=st.sampled_from("aeiouéèüñÅ\u0301\u0308\u030a /._-"), max_size=12)


@given(st.lists(NAMES, max_size=8))
def test_collapsing_groups_are_exactly_the_names_equal_in_nfc(names):
    keys = {name: index for index, name in enumerate(names)}
    groups = collapsing_groups(keys)
    grouped = [key for group in groups for key, _ in group]
    assert len(grouped) == len(set(grouped))  # a key is in at most one group
    for group in groups:
        assert len({unicodedata.normalize("NFC", key) for key, _ in group}) == 1
    for a in keys:
        for b in keys:
            if a != b and unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
                assert any({a, b} <= {k for k, _ in group} for group in groups)
