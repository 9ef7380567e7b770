"""A small HTTP/1.1 proxy for tests and benchmarks: sits between a client and a
real S3 server on loopback, counts requests, adds latency and injects faults.

    with Proxy(server.endpoint_url, latency=0.05) as proxy:
        client = emulator.client(proxy.url, ...)
        proxy.fault = lambda method, path, n: "503" if n % 10 == 0 else None

Faults (the callable's answer for request number ``n``, counted from 1 over the
proxy's lifetime):

- ``None``: forward normally;
- ``"503"``: answer an S3-style ``503 SlowDown`` without forwarding;
- ``("answer", status, code)``: answer an S3-style error ``code`` with
  ``status`` without forwarding (``("answer", 404, "NoSuchUpload")``);
- ``"reset"``: drop the client connection with a TCP RST;
- ``"reset-after"``: forward the request, let the server act on it, then drop
  the client connection with a TCP RST instead of its answer (the reset a
  client cannot tell from ``"reset"``: was it done or not?);
- ``("delay", seconds)``: wait, then forward;
- ``"hang"``: accept the request and never answer (until the proxy closes).

One thread per client connection, each with its own keep-alive upstream
connection, so the proxy is not the bottleneck at a few dozen connections.
Request bodies are buffered (they are images of at most a few hundred KB) so a
stale upstream connection can be retried transparently; responses stream.
"""

import collections
import socket
import struct
import threading
import time
import uuid
from urllib.parse import urlsplit

ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message>"
    "<RequestId>{rid}</RequestId><HostId>netproxy</HostId></Error>"
)
MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "NoSuchUpload": "The specified multipart upload does not exist.",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
}
COPY_CHUNK = 256 * 1024
NO_BODY_STATUSES = {204, 304}


class Request:
    """One parsed request: its head (request line + headers) and raw body."""

    def __init__(self, method, target, version, headers, raw_headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # lower-cased name -> value
        self.raw_headers = raw_headers  # [(name, value)] as sent
        self.body = b""

    @property
    def expects_continue(self):
        return self.headers.get("expect", "").lower() == "100-continue"

    @property
    def keep_alive(self):
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"

    def head_for_upstream(self):
        # The proxy answers 100-continue itself, so the upstream never has to.
        lines = [f"{self.method} {self.target} {self.version}"]
        lines += [
            f"{name}: {value}" for name, value in self.raw_headers if name.lower() != "expect"
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_head(reader):
    """Lines up to the blank line; None on a clean EOF before any byte."""
    lines = []
    while True:
        line = reader.readline(65537)
        if not line:
            if lines:
                raise ConnectionError("connection closed inside a message head")
            return None
        if line in (b"\r\n", b"\n"):
            if not lines:
                continue  # tolerate stray CRLF between messages (RFC 9112 2.2)
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


def parse_headers(lines):
    raw = []
    for line in lines:
        name, _, value = line.partition(":")
        raw.append((name.strip(), value.strip()))
    return raw, {name.lower(): value for name, value in raw}


def read_request(reader):
    lines = read_head(reader)
    if lines is None:
        return None
    method, target, version = lines[0].split(" ", 2)
    raw, headers = parse_headers(lines[1:])
    return Request(method, target, version, headers, raw)


def read_chunked(reader):
    """The raw bytes of a chunked body, chunk framing and trailers included."""
    parts = []
    while True:
        size_line = reader.readline(65537)
        if not size_line:
            raise ConnectionError("connection closed inside a chunked body")
        parts.append(size_line)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the blank line
                trailer = reader.readline(65537)
                parts.append(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(parts)
        parts.append(read_exact(reader, size + 2))


def read_exact(reader, size):
    data = reader.read(size)
    if len(data) != size:
        raise ConnectionError("connection closed inside a message body")
    return data


def read_body(reader, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return read_chunked(reader)
    length = int(headers.get("content-length", "0") or 0)
    return read_exact(reader, length) if length else b""


def copy_exact(reader, sock, size):
    while size:
        data = reader.read(min(size, COPY_CHUNK))
        if not data:
            raise ConnectionError("upstream closed inside a response body")
        sock.sendall(data)
        size -= len(data)


def copy_chunked(reader, sock):
    sock.sendall(read_chunked(reader))


def copy_until_eof(reader, sock):
    while data := reader.read1(COPY_CHUNK):
        sock.sendall(data)


def tuned(sock):
    # Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms stalls per
    # request on loopback and the proxy would distort every figure.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Upstream:
    """A keep-alive connection to the upstream server, reopened on demand."""

    def __init__(self, address, registry):
        self.address = address
        self.registry = registry
        self.sock = None
        self.reader = None

    def open(self):
        self.close()
        self.sock = tuned(socket.create_connection(self.address))
        self.reader = self.sock.makefile("rb", buffering=COPY_CHUNK)
        self.registry.add(self.sock)

    def close(self):
        if self.sock is not None:
            self.registry.discard(self.sock)
            self.reader.close()
            self.sock.close()
            self.sock = self.reader = None

    def send(self, request):
        """Send ``request``; return the response's status line and headers.

        A reused connection the server has meanwhile closed fails on send or
        yields EOF before a status line; then retry once on a fresh one."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.open()
            try:
                self.sock.sendall(request.head_for_upstream() + request.body)
                lines = read_head(self.reader)
            except OSError:
                lines = None
            if lines is not None:
                return lines
            self.close()
            if fresh or attempt:
                raise ConnectionError("upstream closed the connection without answering")
        raise AssertionError("unreachable")


class Proxy:
    def __init__(self, upstream_url, latency=0.0, fault=None):
        parts = urlsplit(upstream_url)
        if parts.scheme != "http":
            raise ValueError("the proxy forwards plain http:// only")
        self.upstream = (parts.hostname, parts.port or 80)
        self.latency = latency
        self.fault = fault
        self.counts = collections.Counter()
        self.requests = []
        self.in_flight = 0
        self.peak_in_flight = 0  # the most requests that were ever being served at once
        self.first_seen = self.last_answered = None  # time.perf_counter() readings
        self.port = None
        self.url = None
        self._lock = threading.Lock()
        self._sequence = 0
        self._closed = threading.Event()
        self._sockets = set()
        self._listener = None
        self._acceptor = None

    # --- lifecycle

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="netproxy-accept", daemon=True
        )
        self._acceptor.start()
        return self

    def close(self):
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def reset_counts(self):
        with self._lock:
            self.counts.clear()
            self.requests.clear()
            self.peak_in_flight = self.in_flight
            self.first_seen = self.last_answered = None

    # --- serving

    def _accept_loop(self):
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(tuned(client),), name="netproxy-conn", daemon=True
            ).start()

    def _started(self):
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self.first_seen is None:
                self.first_seen = time.perf_counter()

    def _answered(self):
        with self._lock:
            self.in_flight -= 1
            self.last_answered = time.perf_counter()

    def _record(self, request):
        with self._lock:
            self._sequence += 1
            self.counts[request.method] += 1
            self.requests.append((request.method, request.target))
            return self._sequence

    def _serve(self, client):
        self._sockets.add(client)
        upstream = Upstream(self.upstream, self._sockets)
        reader = client.makefile("rb", buffering=COPY_CHUNK)
        try:
            while not self._closed.is_set():
                request = read_request(reader)
                if request is None:
                    return
                self._started()
                try:
                    if not self._handle(request, reader, client, upstream):
                        return
                finally:
                    self._answered()
        except (OSError, ValueError):
            pass  # the client or upstream went away; nothing to answer
        finally:
            upstream.close()
            self._sockets.discard(client)
            reader.close()
            client.close()

    def _handle(self, request, reader, client, upstream):
        """Serve one request; return whether the client connection stays open."""
        number = self._record(request)
        fault = self.fault(request.method, request.target, number) if self.fault else None
        if fault == "reset":
            return self._reset(client)
        if fault == "reset-after":
            if request.expects_continue:
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.body = read_body(reader, request.headers)
            upstream.send(request)  # the server has answered: it acted on it
            upstream.close()  # the answer's body is never read
            return self._reset(client)
        if fault == "hang":
            self._closed.wait()
            return False
        if fault == "503":
            return self._error(request, reader, client, 503, "SlowDown")
        if isinstance(fault, tuple) and fault[0] == "answer":
            return self._error(request, reader, client, *fault[1:])
        delay = self.latency + (fault[1] if isinstance(fault, tuple) else 0.0)
        if delay > 0:
            time.sleep(delay)
        if request.expects_continue:
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.body = read_body(reader, request.headers)
        return self._forward(request, client, upstream)

    @staticmethod
    def _reset(client):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _error(self, request, reader, client, status, code):
        # A client waiting for 100-continue never sends the body, so the only
        # sane continuation then is to close; otherwise drain it and keep going.
        keep_alive = request.keep_alive and not request.expects_continue
        if keep_alive:
            read_body(reader, request.headers)
        message = MESSAGES.get(code, code)
        body = ERROR_XML.format(code=code, message=message, rid=uuid.uuid4().hex).encode()
        head = (
            f"HTTP/1.1 {status} {code}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amz-request-id: {uuid.uuid4().hex[:16]}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        client.sendall(head.encode() + (b"" if request.method == "HEAD" else body))
        return keep_alive

    def _forward(self, request, client, upstream):
        lines = upstream.send(request)
        while True:
            status = int(lines[0].split(" ", 2)[1])
            _, headers = parse_headers(lines[1:])
            client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if not 100 <= status < 200:
                break
            # An interim answer (the proxy strips Expect, but a server may
            # still send one); the final answer follows on the same stream.
            lines = read_head(upstream.reader)
            if lines is None:
                raise ConnectionError("upstream closed after an interim response")
        keep_alive = request.keep_alive and headers.get("connection", "").lower() != "close"
        if request.method == "HEAD" or status in NO_BODY_STATUSES:
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            copy_chunked(upstream.reader, client)
        elif "content-length" in headers:
            copy_exact(upstream.reader, client, int(headers["content-length"]))
        else:
            copy_until_eof(upstream.reader, client)
            keep_alive = False
        if not keep_alive or headers.get("connection", "").lower() == "close":
            upstream.close()
        return keep_alive
