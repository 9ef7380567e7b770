"""The test proxy against a real S3 server (moto on loopback): it forwards
faithfully, counts, delays and injects the faults the resilience tests rely on."""

import contextlib
import http.client
import io
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from gallery import emulator
from r2_toolkit.core.compat import checksum_options
from tests.support import netproxy
from tests.support.netproxy import Proxy


def s3_client(server, proxy, **config):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=proxy.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(
            **checksum_options(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
            **config,
        ),
    )


@pytest.fixture
def bucket(moto_server):
    name = moto_server.new_bucket_name("proxy")
    emulator.provision(moto_server.client(), name, public=True, cors=False)
    return name


@pytest.fixture
def proxy(moto_server):
    with Proxy(moto_server.endpoint_url) as running:
        yield running


def test_forwards_and_counts_every_method(moto_server, bucket, proxy):
    s3 = s3_client(moto_server, proxy)
    body = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body)
    assert s3.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key="a/b.bin")["ContentLength"] == len(body)
    s3.delete_object(Bucket=bucket, Key="a/b.bin")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="a/b.bin")

    assert proxy.counts == {"PUT": 1, "GET": 1, "HEAD": 2, "DELETE": 1}
    assert proxy.requests[0] == ("PUT", f"/{bucket}/a/b.bin")
    proxy.reset_counts()
    assert not proxy.counts and not proxy.requests


def test_keeps_connections_alive_and_frames_bodies(moto_server, bucket, proxy):
    """boto3's 100-continue uploads, then several anonymous reads on one
    client connection: full, HEAD and ranged responses."""
    payload = os.urandom(70_000)
    s3 = s3_client(moto_server, proxy)
    s3.put_object(Bucket=bucket, Key="plain", Body=payload)
    s3.put_object(Bucket=bucket, Key="expect", Body=io.BytesIO(payload))  # Expect: 100-continue
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        for key in ("plain", "expect"):
            conn.request("GET", f"/{bucket}/{key}")
            assert conn.getresponse().read() == payload
        conn.request("HEAD", f"/{bucket}/expect")
        assert conn.getresponse().read() == b""  # no body, whatever its headers say
        conn.request("GET", f"/{bucket}/plain", headers={"Range": "bytes=10-19"})
        assert conn.getresponse().read() == payload[10:20]
    finally:
        conn.close()
    assert proxy.counts == {"PUT": 2, "GET": 3, "HEAD": 1}


@contextlib.contextmanager
def scripted_upstream(answers):
    """A raw HTTP server that records each request it receives and sends the
    next canned answer, closing after answers that end by closing (moto
    never sends chunked or close-delimited bodies, real servers do)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        queue = list(answers)
        while queue:
            conn, _ = listener.accept()
            reader = conn.makefile("rb")
            while queue:
                request = netproxy.read_request(reader)
                if request is None:
                    break
                received.append((request.method, netproxy.read_body(reader, request.headers)))
                answer, closes = queue.pop(0)
                conn.sendall(answer)
                if closes:
                    break
            reader.close()
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        listener.close()


def test_relays_chunked_and_close_delimited_messages():
    answers = [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
            False,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    ]
    with scripted_upstream(answers) as (upstream_url, received), Proxy(upstream_url) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("PUT", "/chunked", body=iter([b"abc", b"defg"]), encode_chunked=True)
        assert conn.getresponse().read() == b"hello world"
        conn.request("DELETE", "/x")
        response = conn.getresponse()
        assert response.status == 204 and response.read() == b""
        conn.request("GET", "/eof")
        assert conn.getresponse().read() == b"until the end"
        conn.close()  # the proxy closed it after the close-delimited answer
        conn.request("GET", "/again")
        assert conn.getresponse().read() == b"ok"
        conn.close()
    assert received[0] == ("PUT", b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    assert [method for method, _ in received] == ["PUT", "DELETE", "GET", "GET"]


def test_latency_is_added_to_each_request(moto_server, bucket, proxy):
    s3 = s3_client(moto_server, proxy)
    s3.head_bucket(Bucket=bucket)  # open the connection first
    proxy.latency = 0.1
    started = time.monotonic()
    for _ in range(3):
        s3.head_bucket(Bucket=bucket)
    assert time.monotonic() - started >= 0.3


def test_slow_down_is_an_s3_error_and_boto3_retries_it(moto_server, bucket, proxy):
    proxy.fault = lambda method, path, n: "503" if method == "PUT" and n <= 2 else None
    s3 = s3_client(moto_server, proxy, retries={"mode": "standard", "max_attempts": 5})
    s3.put_object(Bucket=bucket, Key="retried", Body=b"payload")
    assert proxy.counts["PUT"] == 3
    assert s3.get_object(Bucket=bucket, Key="retried")["Body"].read() == b"payload"

    proxy.fault = lambda method, path, n: "503"
    no_retry = s3_client(moto_server, proxy, retries={"mode": "standard", "max_attempts": 1})
    with pytest.raises(ClientError) as error:
        no_retry.put_object(Bucket=bucket, Key="refused", Body=b"x")
    assert error.value.response["Error"]["Code"] == "SlowDown"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_reset_drops_the_connection_and_boto3_recovers(moto_server, bucket, proxy):
    proxy.fault = lambda method, path, n: "reset" if n == 1 else None
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        conn.request("GET", f"/{bucket}")
        conn.getresponse()
    conn.close()

    proxy.fault = lambda method, path, n: "reset" if n in (2, 3) else None
    s3 = s3_client(moto_server, proxy, retries={"mode": "standard", "max_attempts": 5})
    s3.put_object(Bucket=bucket, Key="after-reset", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="after-reset")["Body"].read() == b"ok"
    assert proxy.counts["PUT"] == 3


def test_hang_never_answers_until_closed(moto_server, bucket):
    with Proxy(moto_server.endpoint_url, fault=lambda method, path, n: "hang") as proxy:
        s3 = s3_client(
            moto_server,
            proxy,
            read_timeout=0.5,
            connect_timeout=1,
            retries={"mode": "standard", "max_attempts": 1},
        )
        with pytest.raises((ReadTimeoutError, ConnectionClosedError)):
            s3.head_bucket(Bucket=bucket)
        assert proxy.counts["HEAD"] >= 1  # seen, never answered


def test_delay_fault_adds_to_latency(moto_server, bucket, proxy):
    proxy.fault = lambda method, path, n: ("delay", 0.3) if method == "HEAD" else None
    s3 = s3_client(moto_server, proxy)
    started = time.monotonic()
    s3.head_bucket(Bucket=bucket)
    assert time.monotonic() - started >= 0.3


def test_many_concurrent_connections(moto_server, bucket, proxy):
    s3 = s3_client(moto_server, proxy, max_pool_connections=64)
    bodies = {f"c/{index}": os.urandom(20_000) for index in range(128)}

    def round_trip(key):
        s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read() == bodies[key]

    with ThreadPoolExecutor(64) as pool:
        assert all(pool.map(round_trip, bodies))
    assert proxy.counts == {"PUT": 128, "GET": 128}
