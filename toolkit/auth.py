"""Who may read the debug views: a bearer token or a staff session.

The seed application served its debug views to anyone; these answer

- 404 when no token is configured and the user is not staff (the views are
  off: nothing to find),
- 405 for any method but GET and HEAD (they never change anything),
- 403 for a wrong token, 401 without credentials (with ``WWW-Authenticate``).

The token is compared in constant time, so response timing does not reveal
how much of a guess was right.
"""

import functools
import hmac
import logging
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Concatenate, ParamSpec

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.core.errors import describe

logger = logging.getLogger("r2_toolkit.auth")

P = ParamSpec("P")

SAFE_METHODS = ("GET", "HEAD")
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def json_response(data: Mapping[str, object], status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in {**SECURITY_HEADERS, **headers}.items():
        response[name] = value
    return response


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, else None (other
    schemes, e.g. a proxy's Basic auth, are not ours to judge)."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def token_matches(presented: str | None, expected: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def session_is_staff(request: HttpRequest) -> bool:
    """Whether the session cookie of ``request`` is a staff user's, also for a
    view answered before the session and auth middlewares run
    (HealthCheckMiddleware): then the session is loaded here, and only when a
    cookie was sent. A database that cannot answer is "not staff"."""
    if hasattr(request, "user"):
        return is_staff(request)
    if not (
        apps.is_installed("django.contrib.sessions") and apps.is_installed("django.contrib.auth")
    ):
        return False
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return False
    from django.contrib.auth import get_user

    try:
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
        user = get_user(request)
        return bool(user.is_active and user.is_staff)
    except Exception as exc:  # e.g. the database is down: answer as to anyone
        logger.warning("cannot read the session: %s", describe(exc))
        return False


def authorized(request: HttpRequest) -> bool:
    """A valid bearer token, or (without an Authorization header) a staff session."""
    presented = bearer_token(request)
    if presented is not None:
        return token_matches(presented, toolkit_settings.TOKEN)
    return session_is_staff(request)


def denial(request: HttpRequest) -> HttpResponse | None:
    """The response refusing ``request``, or None when it may proceed."""
    expected = toolkit_settings.TOKEN
    presented = bearer_token(request)
    if presented is not None and token_matches(presented, expected):
        return method_refusal(request)
    if presented is None and is_staff(request):
        return method_refusal(request)
    if not expected and not is_staff(request):
        return json_response({"error": "Not found."}, status=404)
    if request.method not in SAFE_METHODS:
        return method_refusal(request)
    if presented is not None:
        return json_response({"error": "The bearer token is not valid."}, status=403)
    return json_response(
        {
            "error": 'Authentication required: send Authorization: Bearer <the token in R2_TOOLKIT["TOKEN"]>, '
            "or sign in as staff."
        },
        status=401,
        **{"WWW-Authenticate": 'Bearer realm="r2-toolkit"'},
    )


def method_refusal(request: HttpRequest) -> HttpResponse | None:
    if request.method in SAFE_METHODS:
        return None
    return json_response(
        {"error": f"Method {request.method} is not allowed; use GET."},
        status=405,
        Allow=", ".join(SAFE_METHODS),
    )


def token_or_staff(
    view: Callable[Concatenate[HttpRequest, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Serve ``view`` only to a valid bearer token or a staff session."""

    @csrf_exempt  # read-only views; a POST must get 405, not a CSRF page
    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        refused = denial(request)
        return refused if refused is not None else view(request, *args, **kwargs)

    return guarded
