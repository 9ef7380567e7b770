"""``HealthCheckMiddleware``: /healthz, /livez and /readyz before anything else runs.

Kubernetes probes and load-balancer health checks address the pod or the
instance by IP, a Host that is in no ALLOWED_HOSTS: behind Django's stack
they get 400 (DisallowedHost) while the bucket is fine, and the pod is killed
or pulled from rotation. Placed first in MIDDLEWARE, this answers the health
path (``R2_TOOLKIT["HEALTH_PATH"]``, with or without a trailing slash) with
the same view and the same cached, single-flight, bounded probe as the URL
route, and skips the rest of the stack (sessions, CSRF, auth, messages),
which a health poll never needs. Every other path goes on untouched, host
validation included.

``/livez`` and ``/readyz`` are the health path's siblings (the same
directory: ``/ops/healthz`` has ``/ops/livez`` and ``/ops/readyz``), as the
URL routes are when the toolkit's URLs are included under a prefix.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from r2_toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.views import healthz, livez, readyz

# A view, and what Django hands a middleware: the rest of the stack.
View = Callable[[HttpRequest], HttpResponse]


def health_paths(path: str) -> frozenset[str]:
    """The paths answered for ``path``: as written and with(out) its slash."""
    bare = path.rstrip("/") or "/"
    return frozenset({bare, bare if bare == "/" else bare + "/"})


def sibling(path: str, name: str) -> str:
    """``name`` in the directory of ``path``: sibling("/ops/healthz", "livez") == "/ops/livez"."""
    directory = path.rstrip("/").rpartition("/")[0]
    return f"{directory}/{name}"


def health_routes(path: str) -> dict[str, View]:
    """{request path: view} the middleware answers for the health path ``path``."""
    routes: dict[str, View] = {}
    for view, at in ((livez, sibling(path, "livez")), (readyz, sibling(path, "readyz"))):
        routes.update(dict.fromkeys(health_paths(at), view))
    routes.update(dict.fromkeys(health_paths(path), healthz))  # the configured path wins
    return routes


class HealthCheckMiddleware:
    def __init__(self, get_response: View) -> None:
        self.get_response = get_response
        # (the HEALTH_PATH the routes were made for, the routes)
        self._paths: tuple[str | None, dict[str, View]] = (None, {})
        # Django builds middleware when a worker boots: an invalid HEALTH_PATH
        # stops the boot with the fix, instead of failing every request later.
        self.paths()

    def paths(self) -> dict[str, View]:
        # Recomputed only when the setting changes (tests override it).
        configured = toolkit_settings.HEALTH_PATH
        if self._paths[0] != configured:
            self._paths = (configured, health_routes(configured))
        return self._paths[1]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.paths().get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
