"""Debian's Chromium, headless, driven through its own ChromeDriver
(``make browser`` installs both), and a tiny static site to give a page the
origin a real site's upload form would have.

Selenium with the distribution's ChromeDriver rather than Playwright: the
driver is built from the same source package as the browser, so a Chromium
security update cannot leave the driver's protocol behind, nothing is
downloaded at run time, and the wheel is a fifth of the size. What Playwright
would add (request headers, clipboard permissions) is one DevTools command.
"""

import contextlib
import http.server
import os
import threading

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # we are root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,1000",
)
MISSING = (
    "Chromium is not installed: run `make browser` "
    "(apt-get install -y chromium chromium-driver), which `make test` does first."
)


@contextlib.contextmanager
def chromium():
    """A headless Chromium under Selenium; quits when done."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        raise RuntimeError(MISSING)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ARGUMENTS:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def grant_clipboard(driver, origin):
    """Let pages of ``origin`` write and read the clipboard without a prompt."""
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )


def clipboard_text(driver):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('clipboard error: ' + e));"
    )


def full_page_png(driver, max_height=None):
    """The whole page (or its first ``max_height`` CSS pixels) as PNG bytes,
    beyond the window."""
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = dict(metrics["cssContentSize"])
    if max_height:
        size["height"] = min(size["height"], max_height)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])


class StaticSite:
    """Serves ``pages`` ({path: html}) on 127.0.0.1 at a free port: the
    origin a site's own page would have."""

    def __init__(self, pages):
        served = {path: html.encode() for path, html in pages.items()}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = served.get(self.path.split("?", 1)[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
