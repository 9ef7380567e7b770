"""A tiny real HTTP server on loopback that answers S3 requests from a script.

For answers the real emulators cannot give (AccessDenied on GetBucketCors, a
Date an hour in the past, a body that is not XML): boto3 still talks real
HTTP to it, so the toolkit's code path is the one it takes against R2.
"""

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

from tests.conftest import point_settings_at

ACCESS_DENIED = (
    403,
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>Access Denied</Message></Error>",
)


class ScriptedS3:
    """``routes`` maps (method, sub-resource) to (status, body) or (status,
    body, headers), e.g. ``("GET", "cors"): ACCESS_DENIED``; anything else is
    200 with no body.
    ``clock_offset`` shifts the Date header, in seconds."""

    def __init__(self, routes=None, clock_offset=0):
        self.routes = dict(routes or {})
        self.clock_offset = clock_offset
        self.requests = []
        self.headers = []  # each request's headers, lower-cased names
        script = self

        class Handler(BaseHTTPRequestHandler):
            def date_time_string(self, timestamp=None):
                return super().date_time_string(time.time() + script.clock_offset)

            def answer(self):
                query = urlsplit(self.path).query
                resource = query.split("=", 1)[0].split("&", 1)[0]
                script.requests.append((self.command, self.path))
                script.headers.append({k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, body, *more = script.routes.get((self.command, resource), (200, b""))
                self.send_response(status)
                for name, value in (more[0] if more else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_OPTIONS = do_DELETE = answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint_url = f"http://127.0.0.1:{self.httpd.server_port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def scripted(settings, routes=None, clock_offset=0):
    """A scripted server for the length of a ``with``, with the Django
    settings pointing at bucket ``scripted`` on it."""
    server = ScriptedS3(routes, clock_offset)
    credentials = SimpleNamespace(
        endpoint_url=server.endpoint_url, access_key="scripted-access", secret_key="scripted-secret"
    )
    point_settings_at(settings, credentials, "scripted")
    try:
        yield server
    finally:
        server.stop()
