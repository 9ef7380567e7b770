"""Exceptions in the operator's words: one sentence, never a traceback."""

import logging
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError

from r2_toolkit.core.redact import scrub


def error_code(exc: BaseException | None) -> Any:
    """The S3 error code of a ClientError ('NoSuchBucket', '403', ...), else None."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def http_status(exc: BaseException | None) -> Any:
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the key (or upload) is not there: a 404."""
    return isinstance(exc, ClientError) and (
        http_status(exc) == 404 or error_code(exc) in ("404", "NoSuchKey", "NotFound")
    )


def is_precondition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a 412: a condition (If-None-Match: *) did not hold."""
    return isinstance(exc, ClientError) and (
        http_status(exc) == 412 or error_code(exc) == "PreconditionFailed"
    )


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of blanks as single spaces (a
    driver's message often ends in a second, indented line)."""
    return " ".join(text.split())


def driver_message(exc: BaseException) -> str:
    """``exc`` as its type and message, secret-free, on one line."""
    return one_line(scrub(f"{type(exc).__name__}: {exc}"))


def database_failed(exc: BaseException) -> str:
    """The sentence for a database that does not answer or refuses the run's
    queries (an OperationalError escaping a command or a run's own wrapping)."""
    return scrub(
        f"the database could not be used ({one_line(str(exc))}); check the DATABASES "
        "setting (host, port, database name, user, password), that the database server "
        "is running and reachable from this host, and that `manage.py migrate` has run."
    )


def describe(exc: BaseException) -> str:
    """A plain, secret-free sentence for ``exc``, on one line."""
    return one_line(sentence_for(exc))


def sentence_for(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"the server answered {http_status(exc) or '?'} {error.get('Code', '')}".rstrip()
        if error.get("Message"):
            text += f": {error['Message']}"
        return scrub(text)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return scrub(f"the request timed out ({exc})")
    if isinstance(exc, EndpointConnectionError):
        return scrub(f"could not connect to {exc.kwargs.get('endpoint_url', 'the endpoint')}")
    if isinstance(exc, (OperationalError, InterfaceError)):
        return database_failed(exc)
    if isinstance(exc, NoCredentialsError):
        return "no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
    if isinstance(exc, (ImproperlyConfigured, ParamValidationError, ValueError)):
        return scrub(str(exc))
    return driver_message(exc)


def debugging(logger: logging.Logger) -> bool:
    """Whether ``logger`` wants tracebacks: operators see one sentence, a
    maintainer who turns the logger to DEBUG also gets the ``exc_info``."""
    return logger.isEnabledFor(logging.DEBUG)
