"""Helpers for the endpoint tests: a real gunicorn serving the toolkit's URLs
with settings from the environment, in front of a real S3 server."""

import contextlib
import os
import subprocess
import uuid

import requests

from gallery.emulator import free_port
from gallery.serve import Gunicorn
from tests.support.servers import ROOT, run_manage, site_env

# Secrets the endpoint tests plant in a site's environment and then look for
# in every answer: random per run, so no output can contain them by chance.
TOKEN = f"tok-{uuid.uuid4().hex}"
SENTINELS = {
    "AWS_ACCESS_KEY_ID": f"AKIA{uuid.uuid4().hex[:16].upper()}",
    "AWS_SECRET_ACCESS_KEY": f"sk-{uuid.uuid4().hex}",
    "DJANGO_SECRET_KEY": f"dj-{uuid.uuid4().hex}",
    "R2_TOOLKIT_TOKEN": TOKEN,
}
DB_PASSWORD = f"pw{uuid.uuid4().hex}"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

# Migrates, creates a staff and a plain user, and prints a real session key of
# the plain user (the admin login form only lets staff in).
CREATE_USERS = """
from django.contrib import auth
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("migrate", verbosity=0)
User.objects.create_user("staff", password="staff-pass", is_staff=True)
plain = User.objects.create_user("plain", password="plain-pass")
session = SessionStore()
session[auth.SESSION_KEY] = str(plain.pk)
session[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[auth.HASH_SESSION_KEY] = plain.get_session_auth_hash()
session.create()
print("PLAIN_SESSION=" + session.session_key)
"""


def gunicorn_env(endpoint_url, bucket, tmp_path, **extra):
    """``site_env`` for the gunicorn under test: nothing inherited from the
    caller's AWS_/DJANGO_/R2_TOOLKIT_/TEST_ variables, the token set."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "R2_TOOLKIT_", "DJANGO_", "TEST_"))
    }
    return site_env(
        endpoint_url,
        bucket,
        tmp_path,
        "endpoint-test-access-key",
        "endpoint-test-secret-key",
        base=inherited,
        **{
            "DJANGO_SETTINGS_MODULE": "tests.endpoints_settings",
            "PYTHONPATH": str(ROOT),
            "R2_TOOLKIT_TOKEN": "endpoint-test-token",
            **extra,
        },
    )


def prepare_database(env):
    """Migrate the process's database, create a staff and a plain user; the
    plain user's session key."""
    result = run_manage("shell", "-c", CREATE_USERS, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.rsplit("PLAIN_SESSION=", 1)[1].strip()


def uses_postgres():
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@contextlib.contextmanager
def running_gunicorn(env, workers=1, threads=1, log_path=None):
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(log_path, "ab")) if log_path else subprocess.DEVNULL
        server = stack.enter_context(
            Gunicorn(free_port(), env, workers=workers, threads=threads, log=log)
        )
        yield server


def staff_session(base_url, username="staff", password="staff-pass"):
    """A requests session signed in through the admin login form."""
    session = requests.Session()
    login = f"{base_url}/admin/login/"
    session.get(login, timeout=30)
    response = session.post(
        login,
        timeout=30,
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "username": username,
            "password": password,
            "next": "/admin/",
        },
        headers={"Referer": login},
    )
    assert response.status_code == 302, response.status_code
    assert "sessionid" in session.cookies
    return session
