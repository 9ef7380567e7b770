"""An S3 server that behaves as Cloudflare R2 does where the emulators do not:
a small HTTP layer in front of a real moto server on loopback.

moto and s3rver accept requests R2 refuses, so a check could pass in CI and
the site still fail on R2. This layer refuses them as R2 does (its error codes
and messages), and forwards everything else to moto:

- object parameters R2 does not implement (a storage class other than STANDARD
  or STANDARD_IA, SSE-S3/SSE-KMS, tagging, object lock, website redirects,
  grants): 501 NotImplemented, "Header 'x-amz-...' with value '...' not implemented";
  the object tagging API: 501 NotImplemented;
- a POST to the bucket (presigned POST, a browser form upload): 501 NotImplemented;
- CompleteMultipartUpload whose non-trailing parts differ in size: 400 InvalidPart;
- object keys normalized to NFC before they are stored (``Héllo`` in NFC and NFD
  are one object), also in a listing's prefix and a DeleteObjects body;
- PutBucketCors with a wildcard-port origin (``http://localhost:*``): 400 MalformedXML;
- an object-only token (Object Read & Write) asking for bucket configuration
  (CORS, policy, lifecycle, ...) or bucket administration: 403 AccessDenied;
- jurisdictions: a bucket lives in the default, ``eu`` or ``fedramp``
  jurisdiction and answers only at ``<account>[.<jurisdiction>].r2.cloudflarestorage.com``;
  elsewhere it is 404 NoSuchBucket.

It answers both as an endpoint of its own (``server.url``, path-style) and as
an HTTP forward proxy, so a client can use a real R2 host name: with
``HTTP_PROXY=server.url`` the endpoint ``server.r2_endpoint()`` is
``http://<account>.r2.cloudflarestorage.com``, which the toolkit recognises as R2.
(Real R2 answers over https only; the proxy speaks plain http.)

Not modelled: R2 lists a key in the encoding it was last uploaded with; here
listings show the NFC form.

    with R2Faithful(moto.endpoint_url, object_only_keys={"objonly"}) as r2:
        client = emulator.client(r2.url)
"""

import http.client
import re
import threading
import unicodedata
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from xml.etree import ElementTree as ET

ACCOUNT = "0123456789abcdef0123456789abcdef"
R2_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.)?(?P<account>[0-9a-f]{32})"
    r"(?:\.(?P<jurisdiction>eu|fedramp))?\.r2\.cloudflarestorage\.com$"
)
R2_STORAGE_CLASSES = ("STANDARD", "STANDARD_IA")
# Headers of PutObject / CreateMultipartUpload / CopyObject that R2 does not implement.
UNIMPLEMENTED_HEADERS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-tagging",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location",
    "x-amz-request-payer",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
)
# Bucket sub-resources that need an Admin token (bucket configuration).
BUCKET_CONFIGURATION = {
    "cors",
    "policy",
    "lifecycle",
    "encryption",
    "acl",
    "website",
    "versioning",
    "logging",
    "notification",
    "replication",
    "tagging",
    "ownershipControls",
    "publicAccessBlock",
    "object-lock",
}
AUTO_REGION = re.compile(r"(/\d{8}/)auto/s3/")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
WILDCARD_PORT = re.compile(r"^[^/]*//[^/]*:\*(/|$)")
MALFORMED_XML = (
    "The XML you provided was not well formed or did not validate against our published schema."
)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "host",
}


def nfc(text):
    return unicodedata.normalize("NFC", text)


def error_body(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


def cors_refusal(body):
    """R2's answer to a PutBucketCors body: None when it takes it, else (status, code, message)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return 400, "MalformedXML", MALFORMED_XML
    origins = [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "AllowedOrigin"]
    if any(WILDCARD_PORT.match(origin.strip()) for origin in origins):
        return 400, "MalformedXML", MALFORMED_XML
    return None


def unimplemented_header(headers):
    """The (name, value) of the first object header R2 does not implement, or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    storage_class = lowered.get("x-amz-storage-class")
    if storage_class is not None and storage_class not in R2_STORAGE_CLASSES:
        return "x-amz-storage-class", storage_class
    for name in UNIMPLEMENTED_HEADERS:
        if name in lowered:
            return name, lowered[name]
    return None


class Request:
    """One request as R2 sees it: jurisdiction, bucket, key, query, token."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.headers = headers
        self.body = body
        parts = urlsplit(target)
        host = (parts.hostname or headers.get("Host", "").rsplit(":", 1)[0]).lower()
        self.host = host
        found = R2_HOST.match(host)
        self.jurisdiction = (found["jurisdiction"] if found else None) or "default"
        path = unquote(parts.path)
        if found and found["bucket"]:  # virtual-hosted style
            self.bucket, self.key = found["bucket"], path.lstrip("/")
        else:
            bucket, _, key = path.lstrip("/").partition("/")
            self.bucket, self.key = bucket, key
        self.key = nfc(self.key)
        self.query = parse_qsl(parts.query, keep_blank_values=True)
        self.params = dict(self.query)
        credential = CREDENTIAL.search(headers.get("Authorization", "")) or re.match(
            r"([^/]+)/", self.params.get("X-Amz-Credential", "")
        )
        self.access_key = credential.group(1) if credential else None

    @property
    def resources(self):
        return {name for name, _ in self.query}

    def upstream_target(self):
        path = "/" + quote(self.bucket, safe="")
        if self.key:
            path += "/" + quote(self.key, safe="/~")
        query = [
            (k, nfc(v) if k == "prefix" else AUTO_REGION.sub(r"\1us-east-1/s3/", v))
            for k, v in self.query
        ]
        return path + ("?" + urlencode(query, safe="/~", quote_via=quote) if query else "")


class R2Faithful:
    def __init__(self, upstream_url, object_only_keys=(), account=ACCOUNT):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port or 80)
        self.object_only_keys = set(object_only_keys)
        self.account = account
        self.jurisdictions = {}  # bucket -> "eu" | "fedramp" (absent: "default")
        self.parts = {}  # upload id -> {part number: size}
        self.refused = []  # (method, code) of every refusal, for tests to read
        self.requests = []  # (method, host, bucket) of every request
        self._lock = threading.Lock()
        self._local = threading.local()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                server.serve(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = handle_any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = None

    # --- lifecycle -----------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def r2_endpoint(self, jurisdiction=None):
        """An R2 S3 API endpoint of this account (reach it with HTTP_PROXY=self.url)."""
        middle = f".{jurisdiction}" if jurisdiction else ""
        return f"http://{self.account}{middle}.r2.cloudflarestorage.com"

    def place(self, bucket, jurisdiction):
        """Say that ``bucket`` lives in ``jurisdiction`` ("eu", "fedramp" or "default")."""
        self.jurisdictions[bucket] = jurisdiction

    # --- serving -------------------------------------------------------
    def serve(self, handler):
        body = self.read_body(handler)
        request = Request(handler.command, handler.path, handler.headers, body)
        with self._lock:
            self.requests.append((request.method, request.host, request.bucket))
        refusal = self.refusal(request)
        if refusal:
            status, code, message = refusal
            with self._lock:
                self.refused.append((request.method, code))
            return self.answer(
                handler, status, [("Content-Type", "application/xml")], error_body(code, message)
            )
        status, headers, answer = self.forward(request)
        self.after(request, status)
        self.answer(handler, status, headers, answer)

    def refusal(self, request):
        """(status, code, message) of R2's refusal, or None to forward."""
        method, resources = request.method, request.resources
        if request.bucket:
            placed = self.jurisdictions.get(request.bucket, "default")
            creating = method == "PUT" and not request.key and not resources
            if creating:
                self.jurisdictions.setdefault(request.bucket, request.jurisdiction)
            elif placed != request.jurisdiction:
                return 404, "NoSuchBucket", "The specified bucket does not exist."
        if request.access_key in self.object_only_keys:
            admin = not request.bucket or (
                not request.key
                and (resources & BUCKET_CONFIGURATION or method in ("PUT", "DELETE"))
            )
            if admin:
                return 403, "AccessDenied", "Access Denied"
        if method == "PUT" and not request.key and "cors" in resources:
            return cors_refusal(request.body)
        if request.key and "tagging" in resources:
            verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title())
            return 501, "NotImplemented", f"{verb}ObjectTagging not implemented"
        if method == "POST" and request.bucket and not request.key and "delete" not in resources:
            return 501, "NotImplemented", "POST Object not implemented"
        writes_object = request.key and (
            (method == "PUT" and "partNumber" not in resources)
            or (method == "POST" and "uploads" in resources)
        )
        if writes_object:
            found = unimplemented_header(request.headers)
            if found:
                name, value = found
                return (
                    501,
                    "NotImplemented",
                    f"Header '{name}' with value '{value}' not implemented",
                )
        if method == "POST" and "uploadId" in resources:
            return self.multipart_refusal(request)
        return None

    def multipart_refusal(self, request):
        sizes = self.parts.get(request.params["uploadId"], {})
        try:
            numbers = [
                int(el.text)
                for el in ET.fromstring(request.body).iter()
                if el.tag.rsplit("}", 1)[-1] == "PartNumber"
            ]
        except (ET.ParseError, ValueError, TypeError):
            return 400, "MalformedXML", MALFORMED_XML
        listed = [sizes.get(n) for n in sorted(numbers)]
        if None in listed:
            return 400, "InvalidPart", "One or more of the specified parts could not be found."
        if len(set(listed[:-1])) > 1:
            return 400, "InvalidPart", "All non-trailing parts must have the same length."
        return None

    def after(self, request, status):
        """Remember what later requests need: part sizes of multipart uploads."""
        if request.method == "PUT" and "partNumber" in request.resources and status == 200:
            with self._lock:
                uploads = self.parts.setdefault(request.params["uploadId"], {})
                uploads[int(request.params["partNumber"])] = len(request.body)

    # --- plumbing ------------------------------------------------------
    @staticmethod
    def read_body(handler):
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def connection(self):
        if getattr(self._local, "conn", None) is None:
            self._local.conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        return self._local.conn

    def forward(self, request):
        # Header names in one case: clients differ (botocore Title-Case, obstore lower).
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["host"] = f"{self.upstream[0]}:{self.upstream[1]}"
        # R2 has one region, "auto" (empty and us-east-1 alias it); moto wants an AWS one.
        if "authorization" in headers:
            headers["authorization"] = AUTO_REGION.sub(r"\1us-east-1/s3/", headers["authorization"])
        body = request.body
        if request.method == "POST" and "delete" in request.resources and body:
            body = re.sub(
                rb"<Key>(.*?)</Key>",
                lambda m: b"<Key>" + nfc(m.group(1).decode()).encode() + b"</Key>",
                body,
            )
        if body != request.body:  # keys normalized: the digest no longer matches
            headers.pop("content-md5", None)
        if body or request.method in ("PUT", "POST"):
            headers["content-length"] = str(len(body))
        for attempt in (0, 1):
            conn = self.connection()
            try:
                conn.request(request.method, request.upstream_target(), body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, response.getheaders(), data
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def answer(handler, status, headers, body):
        handler.send_response_only(status)
        sent_length = False
        for name, value in headers:
            if name.lower() in HOP_BY_HOP:
                continue
            if name.lower() == "content-length":
                sent_length = True
                if handler.command != "HEAD":
                    value = str(len(body))
            handler.send_header(name, value)
        if not sent_length:
            handler.send_header("Content-Length", str(len(body)))
        if not any(name.lower() == "date" for name, _ in headers):
            handler.send_header("Date", handler.date_time_string())
        if not any(name.lower() == "x-amz-request-id" for name, _ in headers):
            handler.send_header("x-amz-request-id", uuid.uuid4().hex[:16])
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


class CustomDomain:
    """A bucket's custom domain on loopback: forwards every request to ``upstream``
    (path-style, ``/<bucket>/<key>``) as Cloudflare's edge does, and with
    ``drop_cors`` answers without the Access-Control-* headers, as an edge cache
    holding a response cached without them, a Transform Rule or hotlink protection
    does. ``paths`` records (method, path) of every request."""

    def __init__(self, upstream_url, drop_cors=False):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port or 80)
        self.drop_cors = drop_cors
        self.paths = []
        domain = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                domain.paths.append((self.command, self.path))
                body = R2Faithful.read_body(self)
                conn = http.client.HTTPConnection(*domain.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    answer = [
                        (name, value)
                        for name, value in response.getheaders()
                        if not (domain.drop_cors and name.lower().startswith("access-control-"))
                    ]
                finally:
                    conn.close()
                R2Faithful.answer(self, response.status, answer, data)

            do_GET = do_HEAD = do_OPTIONS = handle_any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_port}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()
