"""The HTML renderer (the /debug/r2/ page and `r2_check --format html`):
headline, grouping, the CORS fix, escaping and redaction (that the template
ships in the wheel: tests/test_install.py). In a browser: tests/test_browser.py; through
gunicorn: tests/test_status_page.py."""

import json
import re

import pytest

from r2_toolkit.checks.registry import Result
from r2_toolkit.toolkit.report import RENDERERS, cors_fixes, render_html
from tests.conftest import ORIGIN
from tests.support.servers import manage_env, run_manage
from tests.test_checks_cors import SEED_RULES

CONFIG = {"storages": [], "toolkit": {}, "legacy_settings": {}, "versions": {"Django": "5.2"}}
RULES = [{"AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET", "HEAD", "PUT"]}]
CORS_HINT = "Set the bucket's CORS rules to this JSON:\n" + json.dumps(RULES, indent=2) + "\nThen."


def result(check_id, status, message="m", hint="", **details):
    group = check_id.split(".")[1]
    return Result(check_id, group, status, message, hint, 1.0, {"storage": "default", **details})


def test_html_is_a_renderer_of_r2_check():
    assert RENDERERS["html"] is render_html


def test_all_good_says_so_and_offers_no_fix():
    page = render_html([result("r2.settings.bucket_name", "pass")], config=CONFIG)
    assert "<h1>All good</h1>" in page and "<title>R2 toolkit: all good</title>" in page
    assert "need no change" in page


def test_the_headline_counts_failures_and_lists_them_first():
    results = [
        result("r2.cors.etag_exposed", "warn", "etag not exposed", CORS_HINT),
        result("r2.cors.put_allowed", "fail", "no PUT", CORS_HINT),
        result("r2.settings.bucket_name", "pass"),
    ]
    page = render_html(results, config=CONFIG)
    assert "<h1>1 failing</h1>" in page
    listed = re.search(r'<ul class="problems">(.*?)</ul>', page, re.S).group(1)
    assert listed.index("r2.cors.put_allowed") < listed.index("r2.cors.etag_exposed")
    assert 'href="#r2.cors.put_allowed--default"' in listed
    assert 'id="r2.cors.put_allowed--default"' in page
    # With --fail-on warning, the warning fails too.
    assert "<h1>2 failing</h1>" in render_html(results, "warning", config=CONFIG)


def test_checks_are_grouped_in_group_order():
    page = render_html(
        [result("r2.cors.put_allowed", "pass"), result("r2.storages.options", "pass")],
        config=CONFIG,
    )
    assert page.index('id="group-storages"') < page.index('id="group-cors"')


def test_the_cors_fix_is_the_hints_rule_set_once_per_storage():
    results = [
        result("r2.cors.put_allowed", "fail", hint=CORS_HINT),
        result("r2.cors.etag_exposed", "warn", hint=CORS_HINT),
        result("r2.cors.get_allowed", "pass", hint=CORS_HINT),
    ]
    fixes = cors_fixes([r.as_dict() for r in results])
    assert len(fixes) == 1 and json.loads(fixes[0]["rules"]) == RULES
    page = render_html(results, config=CONFIG)
    block = re.search(r'<pre id="cors-rules-1" class="cors-rules">(.*?)</pre>', page, re.S)
    assert json.loads(block.group(1).replace("&quot;", '"')) == RULES
    # Without JavaScript the button would do nothing: it is hidden until the script runs.
    assert re.search(r'<button type="button" class="copy" data-copy="cors-rules-1" hidden>', page)


@pytest.mark.parametrize("hint", ["", "no JSON here", "broken:\n[{", "a list:\n[1, 2]"])
def test_a_hint_without_a_rule_set_gives_no_fix(hint):
    assert cors_fixes([result("r2.cors.put_allowed", "fail", hint=hint).as_dict()]) == []


def test_everything_is_escaped():
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = render_html(
        [result("r2.settings.bucket_name", "fail", hostile, hostile, note=hostile)],
        config={**CONFIG, "toolkit": {"image_model": hostile}},
    )
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_secrets_are_redacted_everywhere(settings):
    secret = "sk-html-sentinel-0123456789"
    settings.AWS_SECRET_ACCESS_KEY = secret
    page = render_html(
        [
            result(
                "r2.settings.bucket_name",
                "fail",
                f"boom {secret}",
                f"try https://u:{secret}@host/",
                secret_access_key=secret,
                url=f"https://h/o?X-Amz-Signature={secret}",
            )
        ],
        config={**CONFIG, "toolkit": {"token": "x" * 20, "note": secret}},
    )
    assert secret not in page and "x" * 20 not in page
    assert "[redacted]" in page


# --- r2_check --format html, a real process --------------------------------------
def test_r2_check_prints_the_page_for_ci_artifacts(s3rver_bucket, tmp_path):
    s3rver_bucket.client.put_bucket_cors(
        Bucket=s3rver_bucket.name, CORSConfiguration={"CORSRules": SEED_RULES}
    )
    env = manage_env(s3rver_bucket.server, s3rver_bucket.name, tmp_path)
    assert run_manage("migrate", "-v0", env=env).returncode == 0
    done = run_manage("r2_check", "--format", "html", "--skip", "roundtrip", env=env)
    assert done.returncode == 1, done.stderr
    page = done.stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert re.search(r"<h1>\d+ failing</h1>", page)
    assert '<tr class="check fail" id="r2.cors.put_allowed--default">' in page
    fix = re.search(r'<pre id="cors-rules-1" class="cors-rules">(.*?)</pre>', page, re.S)
    assert "PUT" in json.loads(fix.group(1).replace("&quot;", '"'))[0]["AllowedMethods"]
    assert "Traceback" not in page + done.stderr
