"""The minimal site's one view: constant JSON, as a health view at best is."""

from django.http import JsonResponse
from django.urls import path


def constant(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("healthz", constant)]
