"""Each private API and version-dependent feature the toolkit relies on, in
r2_toolkit.core.compat, exercised on the installed versions: `make test` runs
this at both ends of the supported ranges (noxfile.py), so an upgrade that
moves one of them fails here, by name, not somewhere deep in a check."""

import http.server
import io
import socket
import threading
from datetime import timedelta

import boto3
import botocore
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage, storages
from django.core.management.base import OutputWrapper
from django.http import HttpResponse

from r2_toolkit.core import compat


def test_checksum_options_are_passed_exactly_where_botocore_knows_them():
    options = compat.checksum_options(request_checksum_calculation="when_required")
    config = Config(**options)  # never a TypeError, on any supported botocore
    if compat.BOTOCORE_VERSION >= (1, 36):
        assert compat.HAS_FLEXIBLE_CHECKSUMS
        assert config.request_checksum_calculation == "when_required"
    else:
        assert not compat.HAS_FLEXIBLE_CHECKSUMS and options == {}


def test_a_client_s_checksum_calculation_is_read_where_botocore_knows_it():
    client = boto3.client(
        "s3",
        region_name="auto",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(**compat.checksum_options(request_checksum_calculation="when_required")),
    )
    expected = "when_required" if compat.HAS_FLEXIBLE_CHECKSUMS else None
    assert compat.checksum_calculation(client) == expected


def test_botocore_version_is_read_as_numbers():
    assert compat.BOTOCORE_VERSION == compat.version_tuple(botocore.__version__)
    assert compat.version_tuple("1.36.0rc1") == (1, 36, 0)


def test_built_storages_are_seen_once_built(settings):
    storage = storages["default"]
    assert compat.built_storage("default") is storage
    default_storage._setup()
    assert compat.built_default_storage() is default_storage._wrapped
    assert compat.built_storage("no-such-alias") is None


def test_raw_stream_is_the_stream_behind_a_commands_output():
    stream = io.StringIO()
    assert compat.raw_stream(OutputWrapper(stream)) is stream
    assert compat.raw_stream(stream) is stream


@pytest.mark.django_db
def test_a_marked_response_is_not_logged_as_an_error(caplog):
    from django.utils.log import log_response

    response = compat.mark_logged(HttpResponse(status=503))
    with caplog.at_level("ERROR", logger="django.request"):
        log_response("Service Unavailable", response=response)
    assert caplog.records == []


def test_storage_defaults_are_read_without_running_init(settings):
    from storages.backends.s3 import S3Storage

    settings.AWS_S3_FILE_OVERWRITE = False
    settings.AWS_LOCATION = "/leading-slash"  # __init__ refuses it; the defaults do not
    defaults = compat.storage_defaults(S3Storage)
    assert defaults["file_overwrite"] is False and defaults["location"] == "/leading-slash"


def test_the_migrations_on_disk_and_their_parents_are_read_without_the_database():
    from django.db.migrations import Migration

    found = compat.disk_migrations()
    assert isinstance(found[("gallery", "0002_r2_columns")], Migration)
    assert ("gallery", "0001_initial") in compat.migration_parents("gallery", "0002_r2_columns")
    assert compat.migration_parents("gallery", "no_such_migration") == []


def test_an_operation_is_written_on_one_line_as_makemigrations_writes_it():
    from django.db import models
    from django.db.migrations.operations import AlterField

    operation = AlterField("photo", "name", models.CharField(max_length=300))
    assert compat.operation_source(operation) == (
        "migrations.AlterField(model_name='photo', name='name', "
        "field=models.CharField(max_length=300))"
    )


@pytest.mark.django_db
def test_a_query_is_built_without_running_and_a_bad_lookup_raises_now():
    from django.contrib.auth.models import User
    from django.core.exceptions import FieldError

    sql, _ = compat.query_sql(User.objects.values("username"))
    assert "username" in sql
    with pytest.raises(FieldError):
        compat.query_sql(User.objects.values("no__such__path"))


@pytest.mark.django_db
def test_a_column_type_is_named_by_the_driver_where_it_can(django_db_setup):
    from django.db import connection

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        code = cursor.description[0][1]
    name = compat.database_type_name(connection, code)
    if connection.vendor == "postgresql":
        assert name == "int4"
    else:
        assert name is None  # SQLite: no type registry; its own type names are used


def test_each_thread_of_a_check_run_has_its_own_boto3_resource_and_shares_the_client():
    """boto3 resources are not thread-safe (clients are): the run's storage
    gives each thread its own, as django-storages does for the app's threads."""
    import threading

    from r2_toolkit.checks.context import CheckContext

    ctx = CheckContext("default", 10)
    client = ctx.client()  # the run's first request builds it, as head_bucket does
    resources = {}

    def connect(name):
        resources[name] = ctx.storage().connection

    threads = [threading.Thread(target=connect, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert resources["a"] is not resources["b"]
    assert ctx.storage() is ctx.storage() and ctx.client() is ctx.client()
    # ... and the one client (building a client per thread costs more than a request)
    assert resources["a"].meta.client is resources["b"].meta.client is client


def test_an_apps_newest_migrations_are_its_leaves():
    leaves = compat.leaf_migrations("gallery")
    newest = max(name for app, name in compat.disk_migrations() if app == "gallery")
    assert leaves == [("gallery", newest)]


def test_make_migration_reads_the_migrations_through_compat(monkeypatch):
    """--make-migration: refused where the backfill migration exists, else the
    next number after the app's newest migration, depending on it."""
    from r2_toolkit.migrations_r2 import migration_file

    with pytest.raises(migration_file.MigrationFileError, match="0003_r2_backfill"):
        migration_file.plan("gallery")
    monkeypatch.setattr(migration_file, "existing_backfill", lambda migrations, app: None)
    path, source = migration_file.plan("gallery")
    ((_, newest),) = compat.leaf_migrations("gallery")
    assert path.endswith(f"{int(newest[:4]) + 1:04d}_r2_backfill.py")
    assert f'("gallery", "{newest}")' in source


def test_make_migration_in_field_mode_depends_on_the_app_alone(monkeypatch, settings):
    """Without IMAGE_MODEL (field mode) --make-migration writes the migration
    after the app's newest one (it used to fail on IMAGE_MODEL.split)."""
    from r2_toolkit.migrations_r2 import migration_file

    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}
    monkeypatch.setattr(migration_file, "existing_backfill", lambda migrations, app: None)
    _, source = migration_file.plan("gallery")
    ((_, newest),) = compat.leaf_migrations("gallery")
    assert f'("gallery", "{newest}")' in source
    assert source.count('        ("') == 1


class SlowDown(http.server.BaseHTTPRequestHandler):
    """Every request answered 503 SlowDown, as R2 and S3 answer when throttling."""

    def do_GET(self):  # noqa: N802  (http.server's naming)
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def obstore_error(endpoint):
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        "bucket",
        endpoint=endpoint,
        region="auto",
        access_key_id="test",
        secret_access_key="test",
        client_options={"allow_http": True, "timeout": "5s", "connect_timeout": "2s"},
        retry_config={"max_retries": 0, "backoff": {"init_backoff": timedelta(milliseconds=1)}},
    )
    with pytest.raises(Exception) as caught:
        obstore.get(store, "some/key.jpg")
    return caught.value


def test_an_obstore_error_reports_the_servers_answer_status_code_and_message():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        error = obstore_error(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert compat.obstore_answer(error) == (503, "SlowDown", "Reduce your rate")


def test_an_obstore_error_without_an_answer_reports_none():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert compat.obstore_answer(obstore_error(f"http://127.0.0.1:{port}")) is None
