"""/healthz under the failures monitors exist for: the S3 server goes away and
comes back, the bucket endpoint hangs, a storm of monitors polls at once.
Real gunicorn, real moto, a real counting proxy between them."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from gallery import emulator
from r2_toolkit.toolkit.health import HealthProbe
from tests.support import servers
from tests.support.endpoints import gunicorn_env, running_gunicorn
from tests.support.netproxy import Proxy

TTL = 1.0
DEADLINE = 1.0
MARGIN = 3.0  # generous: the machine is shared; this is about "bounded", not "fast"


def healthz(server, timeout=30):
    started = time.monotonic()
    response = requests.get(
        f"{server.url}/healthz", timeout=timeout, headers={"Accept": "application/json"}
    )
    return response, time.monotonic() - started


def wait_for_status(server, status, within):
    deadline = time.monotonic() + within
    while True:
        response, elapsed = healthz(server)
        assert elapsed <= DEADLINE + MARGIN, f"/healthz took {elapsed:.1f}s"
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_outage_turns_503_within_the_deadline_and_recovers_by_itself(tmp_path):
    port = emulator.free_port()
    moto = servers.start_moto(port)
    bucket = moto.new_bucket_name("hz")
    try:
        emulator.provision(moto.client(), bucket, public=False, cors=False)
        env = gunicorn_env(
            moto.endpoint_url,
            bucket,
            tmp_path,
            TEST_HEALTH_TTL=str(TTL),
            TEST_HEALTH_TIMEOUT=str(DEADLINE),
        )
        with running_gunicorn(env, workers=1) as server:
            assert healthz(server)[0].status_code == 200
            moto.stop()
            down = wait_for_status(server, 503, within=TTL + DEADLINE + MARGIN)
            assert down.status_code == 503
            assert down.json() == {"status": "unavailable"}
            moto = servers.start_moto(port)  # same port, as a restarted service would be
            emulator.provision(moto.client(), bucket, public=False, cors=False)
            up = wait_for_status(server, 200, within=TTL + DEADLINE + MARGIN)
            assert up.status_code == 200 and up.json() == {"status": "ok"}
    finally:
        moto.stop()


def test_hanging_bucket_gives_503_within_the_deadline(tmp_path):
    with servers.HangingServer() as hanging:
        env = gunicorn_env(
            hanging.url,
            "hangs",
            tmp_path,
            TEST_HEALTH_TTL=str(TTL),
            TEST_HEALTH_TIMEOUT=str(DEADLINE),
            TEST_NO_TOKEN="true",
            DJANGO_DEBUG="true",
        )
        with running_gunicorn(env, workers=1) as server:
            for _ in range(3):  # the first probe, a cached answer, a fresh probe after the TTL
                response, elapsed = healthz(server)
                assert response.status_code == 503
                assert response.text == '{"status": "unavailable"}'
                assert elapsed <= DEADLINE + MARGIN
                time.sleep(TTL / 2)
            # Without a token the debug views are off for everyone but staff.
            for method in ("GET", "POST"):
                off = requests.request(method, f"{server.url}/debug/r2/config", timeout=30)
                assert off.status_code == 404
            # A session lookup on a database that cannot answer (never migrated):
            # a plain 500, not Django's debug page, though DEBUG is on.
            broken = requests.get(
                f"{server.url}/debug/r2/config", timeout=30, cookies={"sessionid": "x" * 32}
            )
            assert broken.status_code == 500
            assert set(broken.json()) == {"error"}
            assert "Traceback" not in broken.text and "django_session" not in broken.text
            # /healthz never reads the session (or anything else in the database).
            with_cookie = requests.get(
                f"{server.url}/healthz", timeout=30, cookies={"sessionid": "x" * 32}
            )
            assert (with_cookie.status_code, with_cookie.text) == (503, '{"status": "unavailable"}')
    assert hanging.held, "the probe never reached the hanging endpoint"


def test_a_storm_after_the_ttl_costs_one_probe_per_worker(moto_server, tmp_path):
    bucket = moto_server.new_bucket_name("storm")
    emulator.provision(moto_server.client(), bucket, public=False, cors=False)
    workers, ttl = 2, 3.0
    with Proxy(moto_server.endpoint_url) as proxy:
        env = gunicorn_env(
            proxy.url, bucket, tmp_path, TEST_HEALTH_TTL=str(ttl), TEST_HEALTH_TIMEOUT="2"
        )
        with running_gunicorn(env, workers=workers, threads=16) as server:
            assert healthz(server)[0].status_code == 200
            time.sleep(ttl + 0.5)  # every worker's cached answer has expired
            proxy.reset_counts()
            barrier = threading.Barrier(50)

            def poll(_):
                barrier.wait()
                return healthz(server)[0].status_code

            with ThreadPoolExecutor(50) as pool:
                statuses = list(pool.map(poll, range(50)))
            assert statuses == [200] * 50
            assert 1 <= proxy.counts["HEAD"] <= workers, proxy.counts
            assert set(proxy.counts) == {"HEAD"}, "the probe must only read"


def test_single_flight_in_one_process(moto_bucket):
    """100 threads after expiry share one real HeadBucket."""
    calls = []
    real = HealthProbe(ttl=60, timeout=5)

    def counted():
        calls.append(1)
        time.sleep(0.2)  # keep the flight in the air while the others arrive
        return real.probe_alias("default")

    probe = HealthProbe(probe=counted, ttl=60, timeout=5)
    barrier = threading.Barrier(100)

    def ask(_):
        barrier.wait()
        return probe.is_healthy()

    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(ask, range(100)))
    assert answers == [True] * 100
    assert len(calls) == 1


@pytest.mark.parametrize("outcome", ["raises", "false"])
def test_a_failing_probe_is_unavailable_and_cached(outcome):
    calls = []

    def failing():
        calls.append(1)
        if outcome == "raises":
            raise ConnectionError("boom")  # an error path a real server cannot produce on cue
        return False

    probe = HealthProbe(probe=failing, ttl=60, timeout=1)
    assert probe.is_healthy() is False
    assert probe.is_healthy() is False
    assert len(calls) == 1


def test_a_failing_public_domain_turns_healthz_503_while_the_api_answers(moto_server, tmp_path):
    """HEALTH_PUBLIC_OBJECT: the probe also HEADs that object's public URL,
    through the custom domain (here a proxy in front of the bucket standing in
    for the CDN); the domain failing turns /healthz 503 and its recovery 200."""
    bucket = moto_server.new_bucket_name("pub")
    client = moto_server.client()
    emulator.provision(client, bucket, public=True, cors=False)
    # Public read for HEAD too: moto checks the bucket policy for an action
    # "s3:HeadObject" that AWS does not have (HEAD needs s3:GetObject), so
    # the object's own ACL says it.
    client.put_object(Bucket=bucket, Key="health/ping.txt", Body=b"ok", ACL="public-read")
    with Proxy(moto_server.endpoint_url) as domain:
        env = gunicorn_env(
            moto_server.endpoint_url,
            bucket,
            tmp_path,
            AWS_S3_CUSTOM_DOMAIN=f"{domain.url.split('://', 1)[1]}/{bucket}",
            TEST_HEALTH_PUBLIC_OBJECT="health/ping.txt",
            TEST_HEALTH_TTL=str(TTL),
            TEST_HEALTH_TIMEOUT=str(DEADLINE),
        )
        with running_gunicorn(env, workers=1) as server:
            assert healthz(server)[0].status_code == 200
            assert domain.counts["HEAD"] >= 1, "the probe did not go through the domain"
            domain.fault = lambda method, path, n: "503"  # the CDN in front fails
            down = wait_for_status(server, 503, within=TTL + DEADLINE + MARGIN)
            assert (down.status_code, down.json()) == (503, {"status": "unavailable"})
            client.head_bucket(Bucket=bucket)  # the S3 API itself still answers
            domain.fault = None
            up = wait_for_status(server, 200, within=TTL + DEADLINE + MARGIN)
            assert (up.status_code, up.json()) == (200, {"status": "ok"})
            # A public object that is gone is a broken public side too.
            client.delete_object(Bucket=bucket, Key="health/ping.txt")
            gone = wait_for_status(server, 503, within=TTL + DEADLINE + MARGIN)
            assert gone.status_code == 503


def test_a_hanging_public_domain_is_unavailable_within_the_deadline(settings, moto_bucket):
    moto_bucket.client.put_object(
        Bucket=moto_bucket.name, Key="health/ping.txt", Body=b"ok", ACL="public-read"
    )
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "HEALTH_PUBLIC_OBJECT": "health/ping.txt"}
    healthy = HealthProbe(ttl=60, timeout=DEADLINE)
    assert healthy.is_healthy() is True
    with servers.HangingServer() as hanging:
        settings.AWS_S3_CUSTOM_DOMAIN = f"127.0.0.1:{hanging.port}/{moto_bucket.name}"
        hung = HealthProbe(ttl=60, timeout=DEADLINE)
        started = time.monotonic()
        assert hung.is_healthy() is False
        assert time.monotonic() - started <= DEADLINE + MARGIN
        assert hanging.held, "the probe never asked the domain"
