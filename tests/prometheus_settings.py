"""Settings for a site that already exposes metrics with django-prometheus:
its app and middleware installed, its URLs at /prometheus/ beside the site's."""

from settings.local import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_prometheus"]  # noqa: F405
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,  # noqa: F405
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
ROOT_URLCONF = "tests.prometheus_urls"
