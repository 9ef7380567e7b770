from django.apps import AppConfig


class SnapshotsConfig(AppConfig):
    name = "tests.plain_site_gate.snapshots"
    label = "snapshots"
    default_auto_field = "django.db.models.BigAutoField"
