"""The 'cors' checks fail for their real causes and pass once the hint's
JSON is applied, against s3rver (which enforces CORS on preflights) and
moto's server mode; a scripted loopback server gives the answers neither can
(AccessDenied, a body that is not XML, a server that ignores its rules)."""

import json

import pytest

from gallery import emulator
from r2_toolkit.checks import cors, cors_live
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import evaluate, run_checks
from tests.conftest import ORIGIN
from tests.support.scripted_s3 import ACCESS_DENIED, scripted

SEED_RULES = [
    {  # the seed's fault: browsers may read but not upload
        "AllowedOrigins": ["*"],
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 3000,
    }
]
CORS_IDS = [i for i in REGISTRY if i.startswith("r2.cors.")]


def run(check_id):
    return evaluate(REGISTRY[check_id], CheckContext("default", 10))


def run_all():
    return {r.id: r for r in run_checks([REGISTRY[i] for i in CORS_IDS], timeout=20)}


def hint_rules(result):
    """The rule set printed in a hint, parsed as an operator would paste it."""
    return json.JSONDecoder().raw_decode(result.hint, result.hint.index("\n[") + 1)[0]


def cors_xml(rules):
    parts = []
    for rule in rules:
        fields = [
            ("AllowedOrigin", rule.get("AllowedOrigins", [])),
            ("AllowedMethod", rule.get("AllowedMethods", [])),
            ("AllowedHeader", rule.get("AllowedHeaders", [])),
            ("ExposeHeader", rule.get("ExposeHeaders", [])),
        ]
        inner = "".join(f"<{tag}>{value}</{tag}>" for tag, values in fields for value in values)
        parts.append(f"<CORSRule>{inner}</CORSRule>")
    return f"<CORSConfiguration>{''.join(parts)}</CORSConfiguration>".encode()


@pytest.fixture(params=["s3rver_server", "moto_server"])
def server(request):
    return request.getfixturevalue(request.param)


def test_the_seeds_get_head_only_rules_fail_put_and_the_hint_fixes_them(server, make_bucket):
    bucket = make_bucket(server, cors=False)
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": SEED_RULES})
    results = run_all()
    put = results["r2.cors.put_allowed"]
    assert put.status == "fail"
    assert f"do not allow PUT from {ORIGIN}" in put.message
    assert "aws s3api put-bucket-cors" in put.hint
    assert results["r2.cors.get_allowed"].status == "pass"
    assert results["r2.cors.content_type_allowed"].status == "skip"  # one cause, one failure
    # s3rver refuses the preflight (403), moto answers 200 without PUT in
    # Access-Control-Allow-Methods: a browser refuses both, as the rules say.
    assert results["r2.cors.preflight_live"].status == "pass"
    assert f"{ORIGIN}: refused" in results["r2.cors.preflight_live"].message

    fixed = hint_rules(put)
    assert fixed[0]["AllowedOrigins"] == ["*"]  # the existing rule, fixed in place
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": fixed})
    results = run_all()
    assert {i: r.status for i, r in results.items()} == {i: "pass" for i in CORS_IDS}, {
        i: r.message for i, r in results.items()
    }
    assert f"{ORIGIN}: allowed" in results["r2.cors.preflight_live"].message


def test_a_bucket_without_rules_fails_with_the_rules_to_set(s3rver_server, make_bucket):
    bucket = make_bucket(s3rver_server, cors=False)
    result = run("r2.cors.rules_readable")
    assert result.status == "fail"
    assert "has no CORS rules" in result.message
    rules = hint_rules(result)
    assert rules == [
        {
            "AllowedOrigins": [ORIGIN],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    assert run("r2.cors.rules_readable").status == "pass"


def test_moto_answers_preflights_without_rules_and_the_check_says_so(moto_server, make_bucket):
    # moto's server mode allows every preflight (all methods, the requested
    # headers, the request's Origin) while the bucket has no CORS rules; R2
    # and s3rver refuse. The live check reports the disagreement.
    make_bucket(moto_server, cors=False)
    result = run("r2.cors.preflight_live")
    assert result.status == "fail"
    assert f"the rules refuse PUT from {ORIGIN} but the server allowed PUT" in result.message
    assert "does not enforce them" in result.hint


def test_content_type_left_out_of_allowed_headers_fails(s3rver_server, make_bucket):
    bucket = make_bucket(s3rver_server, cors=False)
    rules = [
        {
            "AllowedOrigins": [ORIGIN],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["x-amz-meta-owner"],
            "ExposeHeaders": ["ETag"],
        }
    ]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    results = run_all()
    assert results["r2.cors.put_allowed"].status == "pass"
    result = results["r2.cors.content_type_allowed"]
    assert result.status == "fail"
    assert "Content-Type header on PUT" in result.message
    fixed = hint_rules(result)
    assert fixed[0]["AllowedHeaders"] == ["x-amz-meta-owner", "content-type"]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": fixed})
    assert run("r2.cors.content_type_allowed").status == "pass"


def test_etag_not_exposed_is_a_warning_with_the_fix(s3rver_server, make_bucket):
    bucket = make_bucket(s3rver_server, cors=False)
    rules = [
        {
            "AllowedOrigins": [ORIGIN],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"],
        }
    ]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    result = run("r2.cors.etag_exposed")
    assert result.status == "warn"
    assert f"do not expose the ETag header to {ORIGIN}" in result.message
    fixed = hint_rules(result)
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": fixed})
    assert run("r2.cors.etag_exposed").status == "pass"


def test_malformed_origins_in_settings_and_rules_fail_with_corrected_values(
    settings, s3rver_server, make_bucket
):
    bucket = make_bucket(s3rver_server, cors=False, origins=[f"{ORIGIN}/"])
    rules = [
        {
            "AllowedOrigins": ["https://App.example.test/upload"],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
        }
    ]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    result = run("r2.cors.origins_wellformed")
    assert result.status == "fail"
    assert "trailing slash" in result.message and "has a path (/upload)" in result.message
    assert f'R2_TOOLKIT["CORS_ORIGINS"] = ["{ORIGIN}"] ' in result.hint
    fixed = hint_rules(result)
    assert fixed[0]["AllowedOrigins"] == [ORIGIN]
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": fixed})
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": [ORIGIN]}
    assert run("r2.cors.origins_wellformed").status == "pass"


@pytest.mark.parametrize("rules", ["none", "malformed"])
def test_a_site_without_browser_origins_skips_every_cors_check_never_fails(
    settings, make_bucket, moto_server, rules
):
    # No browser uploads: a bucket without CORS rules, or with rules that would
    # fail every check, is not the deploy's concern.
    bucket = make_bucket(moto_server, cors=False, origins=())
    if rules == "malformed":
        bucket.client.put_bucket_cors(
            Bucket=bucket.name,
            CORSConfiguration={
                "CORSRules": [{"AllowedOrigins": ["HTTP://x/"], "AllowedMethods": ["GET"]}]
            },
        )
    results = run_all()
    assert set(results) == set(CORS_IDS)
    for result in results.values():
        assert result.status == "skip", (result.id, result.message)
        assert 'R2_TOOLKIT["CORS_ORIGINS"] is empty' in result.message
        assert "no browser uploads" in result.message
    # The debug view still shows the bucket's rules.
    assert cors.cors_report(CheckContext("default", 10))["error"] is None


def test_access_denied_on_get_bucket_cors_is_a_clear_warning(settings):
    with scripted(settings, {("GET", "cors"): ACCESS_DENIED}):
        results = run_all()
    result = results["r2.cors.rules_readable"]
    assert result.status == "warn"
    assert "may not read bucket scripted's CORS rules" in result.message
    assert "Admin Read" in result.hint
    assert results["r2.cors.put_allowed"].status == "skip"


def test_an_answer_that_is_not_xml_fails_in_a_sentence(settings):
    with scripted(settings, {("GET", "cors"): (200, b"{'this is': not xml at all")}):
        result = run("r2.cors.rules_readable")
    assert result.status == "fail"
    assert "is not a CORS configuration" in result.message
    assert "Traceback" not in result.message + result.hint


def test_a_server_refusing_what_its_rules_allow_is_reported(settings):
    rules = [
        {
            "AllowedOrigins": [ORIGIN],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
        }
    ]
    with scripted(
        settings,
        {
            ("GET", "cors"): (200, cors_xml(rules)),
            ("OPTIONS", ""): (
                403,
                b"<Error><Code>AccessForbidden</Code><Message>CORS off</Message></Error>",
            ),
        },
    ):
        result = run("r2.cors.preflight_live")
    assert result.status == "fail"
    assert (
        f"the rules allow PUT from {ORIGIN} but the server answered the preflight with "
        "HTTP 403 (AccessForbidden: CORS off)"
    ) in result.message


def test_the_rules_are_read_once_for_all_cors_checks(settings):
    with scripted(settings, {("GET", "cors"): (200, cors_xml(SEED_RULES))}) as server:
        results = run_all()
    assert results["r2.cors.put_allowed"].status == "fail"
    assert [r for r in server.requests if r[1].endswith("?cors")] == [("GET", "/scripted?cors")]


def test_a_dead_endpoint_makes_cors_checks_skip_not_time_out(settings, moto_bucket):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{emulator.free_port()}"
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": [f"{ORIGIN}/"]}
    results = run_all()
    for check_id in set(CORS_IDS) - {"r2.cors.origins_wellformed"}:
        assert results[check_id].status == "skip", check_id
        assert "r2.connectivity.head_bucket" in results[check_id].message
    # The configured origins are still judged: they need no bucket.
    assert results["r2.cors.origins_wellformed"].status == "fail"
    assert "trailing slash" in results["r2.cors.origins_wellformed"].message


def test_cors_report_for_the_debug_view(moto_bucket):
    report = cors.cors_report(CheckContext("default", 10))
    json.dumps(report)  # JSON-able as the view returns it
    assert report["storage"] == "default" and report["bucket"] == moto_bucket.name
    assert report["error"] is None and report["rules"][0]["AllowedMethods"] == [
        "GET",
        "HEAD",
        "PUT",
    ]
    assert report["origins"] == [
        {
            "origin": ORIGIN,
            "get": True,
            "head": True,
            "put": True,
            "content_type": True,
            "etag_exposed": True,
            "problems": [],
        }
    ]
    assert report["recommended_rules"]


def test_cors_report_never_raises_for_an_unreachable_bucket(settings, moto_bucket):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{emulator.free_port()}"
    report = cors.cors_report(CheckContext("default", 10))
    assert report["rules"] is None
    assert "not reachable" in report["error"]


def test_on_r2_the_hint_names_the_dashboard_and_wrangler_and_urls_carry_no_signature(settings):
    settings.AWS_S3_ENDPOINT_URL = (
        "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
    )
    settings.AWS_STORAGE_BUCKET_NAME = "pinit-images"
    settings.AWS_S3_REGION_NAME = "auto"
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = "k" * 32, "s" * 64
    ctx = CheckContext("default", 10)
    state = cors.CorsState(
        rules=SEED_RULES,
        origins=[ORIGIN],
        recommended=cors.cors_rules.recommended_rules(SEED_RULES, [ORIGIN]),
    )
    hint = cors.rules_hint(ctx, state)
    assert "R2 > pinit-images > Settings > CORS Policy" in hint
    assert "wrangler r2 bucket cors set pinit-images --file cors.json" in hint
    wrangler_file = json.loads(hint.split("save ", 1)[1].split(" as cors.json", 1)[0])
    assert wrangler_file["rules"][0]["allowed"]["methods"] == ["GET", "HEAD", "PUT"]
    url = cors_live.object_url(ctx)  # presigned by boto3, then stripped: no credential leaks
    assert url.startswith("https://") and "r2.cloudflarestorage.com" in url and "?" not in url
    assert "k" * 32 not in url
