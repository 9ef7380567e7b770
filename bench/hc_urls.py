"""URLs for the benchmarks: the product's own, the peer's storage view, and a
no-op view that returns a constant JSON body (the framework's ceiling)."""

from django.http import JsonResponse
from django.urls import include, path
from health_check.views import HealthCheckView


def noop(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", include("r2_toolkit.toolkit.urls")),
    path(
        "peer/health/",
        HealthCheckView.as_view(checks=["health_check.checks.Storage"]),
        name="peer_storage_health",
    ),
    path("noop/", noop, name="noop"),
]
