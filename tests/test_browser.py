"""The status page and the CORS verdicts in a real browser: Debian's
Chromium, headless, through its ChromeDriver (``make browser``).

- /debug/r2/ for a broken configuration shows the failing check and its fix;
  the copy button puts exactly that JSON on the clipboard, and pasting it
  into the bucket fixes the page; without JavaScript it reads the same.
- For several bucket rule sets on s3rver (which enforces CORS on preflights),
  a page on the site's origin PUTs an image straight to the bucket with a
  presigned URL, as an upload form does, and the cors checks agree with what
  the browser did.
"""

import json
import os

import pytest
from django.test import Client

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.checks.runner import run_checks
from tests.support.browser import (
    StaticSite,
    chromium,
    clipboard_text,
    full_page_png,
    grant_clipboard,
)
from tests.test_checks_cors import SEED_RULES

pytestmark = pytest.mark.s3rver
CORS_IDS = [i for i in REGISTRY if i.startswith("r2.cors.")]
# R2_TOOLKIT_SCREENSHOT=docs/status-page.png refreshes the screenshot in the docs.
SCREENSHOT = os.environ.get("R2_TOOLKIT_SCREENSHOT")


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def wait_for(browser, script, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda driver: driver.execute_script(script))


# --- the status page ------------------------------------------------------------
@pytest.fixture
def staff_browser(browser, live_server, django_user_model):
    """The browser with a staff user's session cookie for the live server."""
    user = django_user_model.objects.create_user("ops", password="ops-pass", is_staff=True)
    client = Client()
    client.force_login(user)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    browser.get(f"{live_server.url}/healthz")  # a page of the origin, to set its cookie on
    browser.delete_all_cookies()
    browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value})
    return browser


def row(browser, check_id, alias="default"):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, f"{check_id}--{alias}")


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_failing_check_and_the_fix_that_the_copy_button_copies(
    staff_browser, live_server, s3rver_server, make_bucket, tmp_path
):
    from selenium.webdriver.common.by import By

    browser = staff_browser
    bucket = make_bucket(s3rver_server, cors=False)
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": SEED_RULES})

    browser.get(f"{live_server.url}/debug/r2/")
    headline = browser.find_element(By.ID, "headline").text
    assert "failing" in headline and "All good" not in headline
    put = row(browser, "r2.cors.put_allowed")
    assert "fail" in put.get_attribute("class").split()
    assert "FAIL" in put.text and "do not allow PUT from https://app.example.test" in put.text
    fix = browser.find_element(By.ID, "cors-rules-1")
    rules = json.loads(fix.text)
    assert "PUT" in rules[0]["AllowedMethods"]
    # Self-contained: the page fetched nothing after itself.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    png = full_page_png(browser)
    assert png.startswith(b"\x89PNG")
    if SCREENSHOT:  # the docs show the top of the page: headline, fix, first groups
        with open(SCREENSHOT, "wb") as out:
            out.write(full_page_png(browser, max_height=1500))

    grant_clipboard(browser, live_server.url)
    copy = browser.find_element(By.CSS_SELECTOR, "#cors-fix button.copy")
    assert copy.is_displayed()
    copy.click()
    wait_for(browser, "return document.querySelector('#cors-fix .copied').textContent")
    assert "Copied" in browser.find_element(By.CSS_SELECTOR, "#cors-fix .copied").text
    copied = clipboard_text(browser)
    assert json.loads(copied) == rules

    # What the operator does next: paste it into the bucket, and reload.
    bucket.client.put_bucket_cors(
        Bucket=bucket.name, CORSConfiguration={"CORSRules": json.loads(copied)}
    )
    browser.get(f"{live_server.url}/debug/r2/")
    for check_id in CORS_IDS:
        assert "pass" in row(browser, check_id).get_attribute("class").split(), check_id
    assert "need no change" in browser.find_element(By.ID, "cors-fix").text


@pytest.mark.django_db(transaction=True)
def test_the_page_reads_the_same_without_javascript(
    staff_browser, live_server, s3rver_server, make_bucket
):
    from selenium.webdriver.common.by import By

    browser = staff_browser
    bucket = make_bucket(s3rver_server, cors=False)
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": SEED_RULES})
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(f"{live_server.url}/debug/r2/")
        assert "failing" in browser.find_element(By.ID, "headline").text
        assert "do not allow PUT" in row(browser, "r2.cors.put_allowed").text
        fix = browser.find_element(By.ID, "cors-rules-1")
        assert fix.is_displayed() and "PUT" in json.loads(fix.text)[0]["AllowedMethods"]
        # A button that could do nothing is not shown.
        assert not browser.find_element(By.CSS_SELECTOR, "#cors-fix button.copy").is_displayed()
        assert "Django" in browser.find_element(By.ID, "versions").text
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


# --- the CORS verdicts against the browser's own upload --------------------------
UPLOAD_PAGE = """<!DOCTYPE html>
<title>upload</title>
<canvas id="c" width="16" height="16"></canvas>
<script>
function image() {
  const canvas = document.getElementById("c");
  const g = canvas.getContext("2d");
  g.fillStyle = "#c33";
  g.fillRect(0, 0, 16, 16);
  return new Promise(resolve => canvas.toBlob(resolve, "image/png"));
}
// As an upload form does: PUT the file to a presigned URL, straight to the
// bucket. Without a content type the body is bytes, so no Content-Type is sent.
async function upload(url, contentType) {
  const blob = await image();
  const init = {method: "PUT", body: contentType ? blob : await blob.arrayBuffer()};
  if (contentType) init.headers = {"Content-Type": contentType};
  try {
    const response = await fetch(url, init);
    return {ok: response.ok, status: response.status, etag: response.headers.get("ETag")};
  } catch (error) {
    return {ok: false, status: null, etag: null, error: String(error)};
  }
}
</script>
"""
ALL = ["GET", "HEAD", "PUT"]
RULE_SETS = {
    "seed GET/HEAD only": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"]}
    ],
    "PUT for another origin": [
        {
            "AllowedOrigins": ["https://elsewhere.example.test"],
            "AllowedMethods": ALL,
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
        }
    ],
    "no content-type header": [
        {
            "AllowedOrigins": ["SITE"],
            "AllowedMethods": ALL,
            "AllowedHeaders": ["x-amz-meta-owner"],
            "ExposeHeaders": ["ETag"],
        }
    ],
    "ETag not exposed": [
        {"AllowedOrigins": ["SITE"], "AllowedMethods": ALL, "AllowedHeaders": ["*"]}
    ],
    "the recommended rules": [
        {
            "AllowedOrigins": ["SITE"],
            "AllowedMethods": ALL,
            "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ],
}


@pytest.fixture(scope="module")
def site():
    with StaticSite({"/": UPLOAD_PAGE}) as static:
        yield static


def with_origin(rules, origin):
    return [
        {**rule, "AllowedOrigins": [origin if o == "SITE" else o for o in rule["AllowedOrigins"]]}
        for rule in rules
    ]


def browser_upload(browser, url, content_type):
    return browser.execute_async_script(
        "upload(arguments[0], arguments[1]).then(arguments[arguments.length - 1]);",
        url,
        content_type,
    )


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_the_cors_verdicts_agree_with_the_browsers_own_upload(
    name, browser, site, s3rver_server, make_bucket
):
    bucket = make_bucket(s3rver_server, cors=False, origins=[site.origin])
    rules = with_origin(RULE_SETS[name], site.origin)
    bucket.client.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": rules})
    verdicts = {r.id: r.status for r in run_checks([REGISTRY[i] for i in CORS_IDS], timeout=20)}

    client = CheckContext("default", 10).client()  # the storage's own client, as the site's

    def presigned(key, **params):
        return client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket.name, "Key": key, **params}, ExpiresIn=300
        )

    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    browser.get(site.origin + "/")
    typed = browser_upload(
        browser, presigned("users/web/images/typed.png", ContentType="image/png"), "image/png"
    )
    bare = browser_upload(browser, presigned("users/web/images/bare.png"), None)

    put_allowed = verdicts["r2.cors.put_allowed"] == "pass"
    content_type_allowed = verdicts["r2.cors.content_type_allowed"] == "pass"
    assert bare["ok"] is put_allowed, (name, verdicts, bare)
    assert typed["ok"] is (put_allowed and content_type_allowed), (name, verdicts, typed)
    if verdicts["r2.cors.put_allowed"] == "fail":
        assert verdicts["r2.cors.content_type_allowed"] == "skip"
    for upload in (typed, bare):
        if upload["ok"]:
            readable = upload["etag"] is not None
            assert readable is (verdicts["r2.cors.etag_exposed"] == "pass"), (name, upload)
    if typed["ok"]:  # the image landed, with the type the browser sent
        head = bucket.client.head_object(Bucket=bucket.name, Key="users/web/images/typed.png")
        assert head["ContentType"] == "image/png" and head["ContentLength"] > 0
    # Each rule set is a different verdict; make sure each one is exercised:
    # (bare PUT succeeds, typed PUT succeeds, the script can read the ETag).
    expected = {
        "seed GET/HEAD only": (False, False, False),
        "PUT for another origin": (False, False, False),
        "no content-type header": (True, False, True),
        "ETag not exposed": (True, True, False),
        "the recommended rules": (True, True, True),
    }[name]
    etag_read = bare["etag"] is not None
    assert (bare["ok"], typed["ok"], etag_read) == expected, (name, verdicts, bare, typed)
