"""Wagtail's URLs as its project template writes them, with the toolkit's
include first: Wagtail's ``path("", include(wagtail_urls))`` answers every
path, so anything after it (``/debug/r2/``) would never be reached."""

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("", include("r2_toolkit.toolkit.urls")),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
