"""The compatibility matrix: the suite at both ends of the supported ranges.

``make test`` runs the suite on the repository's own environment (SQLite and
PostgreSQL), then these sessions, then the install test. Each session's
versions are pinned in ``constraints/<session>.txt`` so a run is repeatable;
``make constraints`` re-resolves them.

- ``newest``: Python 3.13, the newest Django (6.1) and boto3, on SQLite;
- ``oldest``: Python 3.11, Django 4.2 LTS, boto3/botocore 1.35 (before the
  checksum change), django-storages 1.14.3, on PostgreSQL.
"""

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["newest", "oldest"]
nox.options.error_on_missing_interpreters = True

POSTGRES = "postgres://postgres@127.0.0.1:5432/test"


def suite(session, constraints, database_url=None):
    session.install("-c", constraints, "-e", ".[site,test]")
    env = {"R2_TOOLKIT_TEST_DB": f"test_r2_{session.name}"}
    args = ["-m", "not install"]
    if database_url:
        env["DATABASE_URL"] = database_url
        args = ["-m", "not install and not sqlite_only"]
    session.run("python", "-m", "pytest", *args, *session.posargs, env=env)


@nox.session(python="3.13")
def newest(session):
    suite(session, "constraints/newest.txt")


@nox.session(python="3.11")
def oldest(session):
    suite(session, "constraints/oldest.txt", os.environ.get("R2_TOOLKIT_PG_URL", POSTGRES))
