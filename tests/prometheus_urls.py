"""The site's URLs plus django-prometheus's own /prometheus/metrics."""

from django.urls import include, path

from settings.urls import urlpatterns as site_urls

urlpatterns = [*site_urls, path("prometheus/", include("django_prometheus.urls"))]
