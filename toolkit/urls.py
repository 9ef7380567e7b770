"""The toolkit's read-only endpoints: ``path("", include("r2_toolkit.toolkit.urls"))``."""

from django.urls import URLPattern, path, re_path

from r2_toolkit.toolkit import views

app_name = "r2_toolkit"

urlpatterns: list[URLPattern] = [
    # With or without a trailing slash: monitors get configured both ways.
    re_path(r"^healthz/?$", views.healthz, name="healthz"),
    re_path(r"^livez/?$", views.livez, name="livez"),
    re_path(r"^readyz/?$", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("debug/r2/", views.status_page, name="status"),
    path("debug/r2/config", views.config_view, name="config"),
    path("debug/r2/cors", views.cors_view, name="cors"),
    path("debug/r2/schema", views.schema_view, name="schema"),
    path("debug/r2/checks", views.checks_view, name="checks"),
    # The seed application's paths, so tools already pointed at them keep working.
    path("api/debug-storage-config/", views.config_view, name="seed-config"),
    path("api/debug-database-schema/", views.schema_view, name="seed-schema"),
]
