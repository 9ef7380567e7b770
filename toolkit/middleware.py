"""``HealthCheckMiddleware``: /healthz before anything else runs.

Kubernetes probes and load-balancer health checks address the pod or the
instance by IP, a Host that is in no ALLOWED_HOSTS: behind Django's stack
they get 400 (DisallowedHost) while the bucket is fine, and the pod is killed
or pulled from rotation. Placed first in MIDDLEWARE, this answers the health
path (``R2_TOOLKIT["HEALTH_PATH"]``, with or without a trailing slash) with
the same view and the same cached, single-flight, bounded probe as the URL
route, and skips the rest of the stack (sessions, CSRF, auth, messages),
which a health poll never needs. Every other path goes on untouched, host
validation included.
"""

from r2_toolkit.toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.views import healthz


def health_paths(path):
    """The paths answered for ``path``: as written and with(out) its slash."""
    bare = path.rstrip("/") or "/"
    return frozenset({bare, bare if bare == "/" else bare + "/"})


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = (None, frozenset())
        # Django builds middleware when a worker boots: an invalid HEALTH_PATH
        # stops the boot with the fix, instead of failing every request later.
        self.paths()

    def paths(self):
        # Recomputed only when the setting changes (tests override it).
        configured = toolkit_settings.HEALTH_PATH
        if self._paths[0] != configured:
            self._paths = (configured, health_paths(configured))
        return self._paths[1]

    def __call__(self, request):
        if request.path_info in self.paths():
            return healthz(request)
        return self.get_response(request)
