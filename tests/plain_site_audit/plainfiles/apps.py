from django.apps import AppConfig


class PlainFilesConfig(AppConfig):
    name = "tests.plain_site_audit.plainfiles"
    label = "plainfiles"
    default_auto_field = "django.db.models.BigAutoField"
