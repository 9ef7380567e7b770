"""A stand-in for the Prometheus Pushgateway on loopback: it records every
request (method, path, body) and answers as the real one does (200 to PUT
and POST under /metrics/job/..., 400 elsewhere)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Pushgateway:
    def __init__(self):
        self.pushes = []  # (method, path, body text)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                server.pushes.append((self.command, self.path, body))
                ok = self.path.startswith("/metrics/job/")
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = do_DELETE = record

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()
