"""The read-only endpoints: thin shells over the functions r2_check uses.

Every debug view returns JSON that went through redaction as its last step,
and turns any exception into ``{"error": "<one plain sentence>"}``: no stack
trace reaches a response, whatever DEBUG says.
"""

import functools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.cors import cors_report
from r2_toolkit.checks.registry import Result, select
from r2_toolkit.checks.runner import run_checks
from r2_toolkit.checks.schema_record import schema_report
from r2_toolkit.core.compat import mark_logged
from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import debugging, describe
from r2_toolkit.core.redact import redact, scrub
from r2_toolkit.core.storage import chosen_s3_alias, s3_aliases
from r2_toolkit.toolkit.auth import (
    SAFE_METHODS,
    SECURITY_HEADERS,
    authorized,
    denial,
    json_response,
    method_refusal,
    token_or_staff,
)
from r2_toolkit.toolkit.health import health_document, probe
from r2_toolkit.toolkit.introspect import config_report
from r2_toolkit.toolkit.metrics import MetricsUnavailable, exposition
from r2_toolkit.toolkit.report import Document, document, render_html

logger = logging.getLogger("r2_toolkit.views")

P = ParamSpec("P")
# A health view's answer for (request, kind): (HTTP status, body).
Answer = Callable[[HttpRequest, str], tuple[int, bytes]]

# --- /livez, /readyz, /healthz -----------------------------------------------
# Pre-rendered: these views are polled constantly and must cost next to nothing.
HEALTH_JSON = "application/health+json"
HEALTH_BODIES = {
    (True, "json"): b'{"status": "ok"}',
    (False, "json"): b'{"status": "unavailable"}',
    (True, "text"): b"ok",
    (False, "text"): b"unavailable",
}
LIVE_BODIES = {"json": b'{"status": "ok"}', "text": b"ok", "health": b'{"status": "pass"}'}
CONTENT_TYPES = {
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "health": HEALTH_JSON,
}


def accepted(request: HttpRequest) -> set[str]:
    """The media types the request's Accept header does not refuse (q=0)."""
    types = set()
    for item in request.META.get("HTTP_ACCEPT", "").split(","):
        media, _, params = item.partition(";")
        if params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            types.add(media.strip().lower())
    return types


def answer_kind(request: HttpRequest) -> str:
    """ "health" for a client that asks for application/health+json; else
    JSON, the contract, and plain text only for a client that asks for it
    and not for JSON (`?format=text`, or `Accept: text/plain`)."""
    if request.GET.get("format") in ("text", "json"):
        return request.GET["format"]
    types = accepted(request)
    if HEALTH_JSON in types:
        return "health"
    if "text/plain" in types and not types & {"application/json", "application/*", "*/*"}:
        return "text"
    return "json"


def health_response(request: HttpRequest, answer: Answer) -> HttpResponse:
    """GET/HEAD only; ``answer(request, kind)`` gives (status, body)."""
    if request.method not in SAFE_METHODS:
        response = HttpResponseNotAllowed(SAFE_METHODS)
    else:
        kind = answer_kind(request)
        status, body = answer(request, kind)
        response = HttpResponse(
            b"" if request.method == "HEAD" else body,
            status=status,
            content_type=CONTENT_TYPES[kind],
        )
        # Monitors poll every few seconds: during an outage Django would log an
        # error per poll. The probe already logs its failure once per TTL.
        mark_logged(response)
    for name, value in SECURITY_HEADERS.items():
        response[name] = value
    return response


def liveness(request: HttpRequest, kind: str) -> tuple[int, bytes]:
    return 200, LIVE_BODIES[kind]


def readiness(request: HttpRequest, kind: str) -> tuple[int, bytes]:
    if kind != "health":
        healthy = probe.is_healthy()
        return (200 if healthy else 503), HEALTH_BODIES[healthy, kind]
    snapshot = probe.status()
    detailed = request.method == "GET" and authorized(request)
    body = json.dumps(health_document(snapshot, detailed)).encode()
    return (503 if snapshot.status == "fail" else 200), body


@csrf_exempt
def livez(request: HttpRequest) -> HttpResponse:
    """200 while the process serves requests: no bucket, no database, no session."""
    return health_response(request, liveness)


@csrf_exempt
def healthz(request: HttpRequest) -> HttpResponse:
    """/healthz and /readyz: 200 when the default bucket answers its probe,
    503 otherwise; nothing else, unless a token or staff session asks for
    application/health+json. No session or database is touched but for that."""
    return health_response(request, readiness)


readyz = healthz


# --- the debug views ---------------------------------------------------------
def render(data: object, status: int = 200) -> HttpResponse:
    text = scrub(json.dumps(redact(data), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
    response = HttpResponse(text, status=status, content_type="application/json")
    for name, value in SECURITY_HEADERS.items():
        response[name] = value
    return response


def report_view(build: Callable[[HttpRequest], object]) -> Callable[[HttpRequest], HttpResponse]:
    """A GET/HEAD view answering ``build(request)`` as redacted JSON; any
    exception becomes a plain ``{"error": ...}`` with status 500."""

    @token_or_staff
    @functools.wraps(build)
    def view(request: HttpRequest) -> HttpResponse:
        try:
            response = render(build(request))
        except Exception as exc:  # never a traceback, not even with DEBUG=True
            logger.warning("%s failed: %s", request.path, describe(exc), exc_info=debugging(logger))
            response = render({"error": describe(exc)}, status=500)
        if request.method == "HEAD":
            response.content = b""
        return response

    return never_traceback(view)


def never_traceback(
    view: Callable[Concatenate[HttpRequest, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Last line of defence around the auth layer too (a database that is down
    while looking up a staff session must not print Django's debug page)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:
            logger.warning("%s failed: %s", request.path, describe(exc), exc_info=debugging(logger))
            return render(
                {"error": "The request could not be served; see the server log."}, status=500
            )

    return guarded


def storage_context(request: HttpRequest) -> CheckContext:
    """The context of the S3 alias named by ``?storage=`` (default: the first)."""
    given = request.GET.get("storage") or None
    # Without any S3 alias the report itself says so: no alias is no error here.
    alias = chosen_s3_alias(given) if given or s3_aliases() else None
    return CheckContext(alias, timeout=toolkit_settings.CHECK_TIMEOUT)


@report_view
def config_view(request: HttpRequest) -> dict[str, object]:
    return config_report()


@report_view
def cors_view(request: HttpRequest) -> dict[str, object]:
    return cors_report(storage_context(request))


@report_view
def schema_view(request: HttpRequest) -> dict[str, object]:
    return schema_report()


def nonmutating_results() -> list[Result]:
    """Every check that writes nothing, run as r2_check would run it."""
    # Importing any checks module registers them all (see checks/__init__.py).
    chosen = select(include_mutating=False)
    return run_checks(chosen, timeout=toolkit_settings.CHECK_TIMEOUT)


@report_view
def checks_view(request: HttpRequest) -> Document:
    """Every non-mutating check, in r2_check's JSON format; HTTP 200 either
    way, the verdict is the document's ``ok``."""
    return document(nonmutating_results())


# --- the HTML page -------------------------------------------------------------
def page_policy(nonce: str) -> str:
    """Nothing loads but the page's own style and script: a self-contained page
    needs no more, and injected markup (if escaping ever failed) runs nothing."""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


@never_traceback
@token_or_staff
def status_page(request: HttpRequest) -> HttpResponse:
    """/debug/r2/: every non-mutating check, the CORS fix and the redacted
    configuration as one HTML page (the page `r2_check --format html` prints).
    HTTP 200 whatever the checks say; the headline gives the verdict."""
    nonce = secrets.token_urlsafe(16)
    try:
        response = HttpResponse(
            render_html(nonmutating_results(), nonce=nonce), content_type="text/html; charset=utf-8"
        )
        response["Content-Security-Policy"] = page_policy(nonce)
        response["Referrer-Policy"] = "no-referrer"
    except Exception as exc:  # never a traceback, not even with DEBUG=True
        logger.warning("%s failed: %s", request.path, describe(exc))
        response = HttpResponse(
            scrub(f"The status page could not be rendered: {describe(exc)}"),
            status=500,
            content_type="text/plain; charset=utf-8",
        )
    for name, value in SECURITY_HEADERS.items():
        response[name] = value
    if request.method == "HEAD":
        response.content = b""
    return response


# --- /metrics ------------------------------------------------------------------
@csrf_exempt
@never_traceback
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format from the probe's cache; token or staff unless
    R2_TOOLKIT["METRICS_PUBLIC"]; 501 naming the pip line without prometheus_client."""
    refused = method_refusal(request) if toolkit_settings.METRICS_PUBLIC else denial(request)
    if refused is not None:
        return refused
    try:
        body, content_type = exposition(request.META.get("HTTP_ACCEPT", ""))
    except MetricsUnavailable as exc:
        return json_response({"error": f"{exc}."}, status=501)
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=content_type)
    for name, value in SECURITY_HEADERS.items():
        response[name] = value
    return response
