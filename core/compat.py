"""Every use of another library's private API or version-dependent
behaviour, in one place, so an upgrade breaks one module (and its tests in
``tests/test_compat.py``, run at both ends of the supported ranges) instead
of the whole toolkit.

- botocore: the checksum options that only botocore 1.36+ knows, and the
  one a client was built with.
- django-storages: a backend's defaults read without ``__init__``, and the
  key of a name (``_normalize_name``).
- Django: the storages handler's cache of built instances and the
  ``default_storage`` lazy object's wrapped instance (both private), an
  ``OutputWrapper``'s underlying stream, the response flag that stops Django
  logging a 5xx, the migration loader's and writer's internals, a query's SQL
  built without running it, and psycopg 3's type registry on a connection.

Each function names the versions it was checked on: the matrix's two ends
(constraints/oldest.txt and constraints/newest.txt) and this repository's own.
"""

import re
import threading
import warnings
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import botocore
from botocore.config import Config
from django.utils.functional import empty

# --- botocore --------------------------------------------------------------

# botocore 1.36 (January 2025) started sending CRC checksums on every upload,
# and added these two options to turn that off again. Older releases neither
# send those checksums nor accept the options.
CHECKSUM_OPTIONS = ("request_checksum_calculation", "response_checksum_validation")


def version_tuple(text: str) -> tuple[int, ...]:
    """``"1.36.0rc1"`` -> ``(1, 36, 0)``: the leading digits of each part."""
    return tuple(int(re.sub(r"\D.*", "", part) or 0) for part in text.split(".")[:3])


def installed_version(distribution: str) -> tuple[int, ...]:
    """The installed version of ``distribution`` as a tuple of ints, () if absent."""
    try:
        return version_tuple(version(distribution))
    except PackageNotFoundError:
        return ()


BOTOCORE_VERSION = version_tuple(botocore.__version__)
HAS_FLEXIBLE_CHECKSUMS = "request_checksum_calculation" in Config.OPTION_DEFAULTS


def checksum_options(**options: str) -> dict[str, str]:
    """``options`` as Config keyword arguments where this botocore knows them,
    else nothing: ``Config(**checksum_options(request_checksum_calculation=...))``
    works on every supported botocore."""
    return options if HAS_FLEXIBLE_CHECKSUMS else {}


def checksum_calculation(client: Any) -> str | None:
    """The ``request_checksum_calculation`` a client was built with
    (``"when_supported"``, botocore's default, or ``"when_required"``); None
    where botocore predates the option, whose Config has no such attribute
    (checked on botocore 1.35.99: absent, and 1.44.8)."""
    value = getattr(client.meta.config, "request_checksum_calculation", None)
    return value if isinstance(value, str) else None


def copy_if_absent(client: Any) -> dict[str, str]:
    """CopyObject's ``IfNoneMatch="*"`` (refuse an existing target) where
    this botocore knows the parameter (2025 releases on), else nothing."""
    members = client.meta.service_model.operation_model("CopyObject").input_shape.members
    return {"IfNoneMatch": "*"} if "IfNoneMatch" in members else {}


# --- Django ----------------------------------------------------------------


def built_storage(alias: str | None) -> Any:
    """The instance ``storages[alias]`` has already built, or None."""
    from django.core.files import storage

    return storage.storages._storages.get(alias)


def built_default_storage() -> Any:
    """The instance behind ``default_storage`` if it has been evaluated, else None."""
    from django.core.files import storage

    wrapped = storage.default_storage._wrapped
    return None if wrapped is empty else wrapped


def mail_secrets(settings: Any) -> list[object]:
    """The mail password the project sets and its MAILERS entries' OPTIONS:
    Django 6.1 deprecates the EMAIL_* settings for MAILERS, and reading an
    EMAIL_* setting the project never wrote would warn on every redaction."""
    found: list[object] = []
    if settings.is_overridden("EMAIL_HOST_PASSWORD"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            found.append(settings.EMAIL_HOST_PASSWORD)
    mailers = getattr(settings, "MAILERS", None) or {}
    if isinstance(mailers, dict):
        found.extend(m.get("OPTIONS") for m in mailers.values() if isinstance(m, dict))
    return found


def raw_stream(output_wrapper: Any) -> Any:
    """The stream behind a management command's ``self.stdout``/``self.stderr``
    (tqdm needs the real one: it checks ``isatty`` and writes ``\\r``)."""
    return getattr(output_wrapper, "_out", output_wrapper)


def mark_logged(response: Any) -> Any:
    """Stop Django logging this response as an error (a 503 from a health
    probe during an outage would otherwise be logged once per poll)."""
    response._has_been_logged = True
    return response


def query_sql(queryset: Any) -> tuple[str, Any]:
    """The SQL and parameters of ``queryset``, built without running it, so a
    lookup that leads nowhere raises FieldError now (``Query.sql_with_params``,
    not documented; checked on Django 4.2, 5.2 and 6.1)."""
    sql: tuple[str, Any] = queryset.query.sql_with_params()
    return sql


def disk_migrations(ignore_no_migrations: bool = False) -> dict[tuple[str, str], Any]:
    """Every migration on disk, {(app_label, name): Migration}, database
    unread (``MigrationLoader(None).disk_migrations``, not documented; checked
    on Django 4.2, 5.2 and 6.1)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=ignore_no_migrations)
    return dict(loader.disk_migrations)


def migration_parents(app_label: str, name: str) -> list[tuple[str, str]]:
    """The (app_label, name) keys migration ``app_label.name`` depends on,
    [] when there is no such migration (the loader's ``graph.node_map``, not
    documented; checked on Django 4.2, 5.2 and 6.1)."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    node = graph.node_map.get((app_label, name))
    return [tuple(parent.key) for parent in node.parents] if node else []


def leaf_migrations(app_label: str) -> list[tuple[str, str]]:
    """The (app_label, name) keys of ``app_label``'s newest migrations, the
    ones a new migration depends on (the loader's ``graph.leaf_nodes``, not
    documented; checked on Django 4.2, 5.2 and 6.1)."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return [tuple(key) for key in graph.leaf_nodes(app_label)]


def operation_source(operation: Any) -> str:
    """A migration operation as makemigrations writes it, on one line:
    ``OperationWriter`` (not documented) serialises it over several indented
    lines, joined here (checked on Django 4.2, 5.2 and 6.1: the same layout)."""
    from django.db.migrations.writer import OperationWriter

    text, _ = OperationWriter(operation, indentation=0).serialize()
    one_line = re.sub(r"\s*\n\s*", " ", text)
    return one_line.replace("( ", "(").replace(", )", ")").rstrip(",")


def database_type_name(connection: Any, type_code: object) -> str | None:
    """The name PostgreSQL gives a column's type code ('varchar', 'int4'), from
    psycopg 3's type registry on the raw connection (``adapters.types``;
    checked on psycopg 3.1 and 3.3); None where there is no such registry
    (psycopg 2, other drivers) or it does not know the code."""
    registry = getattr(getattr(connection.connection, "adapters", None), "types", None)
    known = registry.get(type_code) if registry is not None else None
    name = getattr(known, "name", None)
    return name if isinstance(name, str) else None


# --- django-storages ---------------------------------------------------------


def storage_defaults(backend: Any) -> dict[str, Any]:
    """The options ``backend`` accepts with the values the settings give them,
    read without running ``__init__`` (which refuses some values, a leading
    ``/`` in ``location``, that the checks must still name):
    ``get_default_settings`` on an uninitialised instance, as ``__init__``
    itself calls it (checked on django-storages 1.14.3 and 1.14.6)."""
    defaults: dict[str, Any] = backend.__new__(backend).get_default_settings()
    return defaults


def share_client(storage: Any) -> Any:
    """``storage`` with one boto3 client for all its threads and a boto3
    resource of each thread's own around it. django-storages keeps a resource
    per thread (``_connections``, a ``threading.local``; resources are not
    thread-safe), and each costs a session and a client, far more CPU than the
    request it is built for; clients are thread-safe. The first resource is
    still django-storages' own, built when first asked for (checked on
    django-storages 1.14.3 and 1.14.6, boto3 1.35 and 1.42)."""
    first: list[Any] = []  # the resource django-storages built, whose client all share
    lock = threading.Lock()

    class Connections(threading.local):
        @property
        def connection(self) -> Any:
            mine = self.__dict__.get("resource")
            if mine is None and first:
                mine = self.__dict__["resource"] = type(first[0])(client=first[0].meta.client)
            return mine

        @connection.setter
        def connection(self, resource: Any) -> None:
            with lock:
                if not first:
                    first.append(resource)
            self.__dict__["resource"] = resource

    storage._connections = Connections()
    return storage


# --- django-storages: the key of a name --------------------------------------


def storage_key(storage: Any, name: str) -> str | None:
    """The object key django-storages' S3Storage reads and writes ``name``
    under: its ``clean_name`` (backslashes, ``.``/``..``, doubled slashes) then
    its private ``_normalize_name`` (joined under the location, refusing what
    escapes it), exactly as ``url()``, ``open()`` and ``save()`` do; checked on
    django-storages 1.14.3 and 1.14.6. None when the storage refuses the name."""
    from django.core.exceptions import SuspiciousOperation
    from storages.utils import clean_name

    try:
        key: str = storage._normalize_name(clean_name(name))
    except (SuspiciousOperation, ValueError):
        return None
    return key or None


# --- obstore (pyo3) -----------------------------------------------------------


def is_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic surfaced by a pyo3 binding (obstore's
    ``pyo3_runtime.PanicException``). It derives from BaseException, not
    Exception, so ``except Exception`` lets it through, and its module is not
    importable: it is known by its module and name."""
    kind = type(exc)
    return kind.__module__ == "pyo3_runtime" and kind.__name__ == "PanicException"


# obstore 0.12 (checked on 0.12.1) gives the server's answer no attribute: its
# message holds "status code: 503" and the XML error body, and its exception
# types (NotFoundError, PreconditionError, ...) do not cover the statuses the
# uploader must tell apart (429, 5xx), so the answer is read from the text.
OBSTORE_STATUS = re.compile(r"status code: (\d{3})")
OBSTORE_CODE = re.compile(r"<Code>([^<]+)</Code>")
OBSTORE_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def obstore_answer(exc: BaseException) -> tuple[int, str, str] | None:
    """(HTTP status, the S3 error code or "", its message or "") of the answer
    an obstore error reports, or None when no server answered (a refused
    connection, a timeout)."""
    text = str(exc)
    status = OBSTORE_STATUS.search(text)
    if status is None:
        return None
    code = OBSTORE_CODE.search(text)
    message = OBSTORE_MESSAGE.search(text)
    return int(status[1]), code[1] if code else "", message[1] if message else ""
