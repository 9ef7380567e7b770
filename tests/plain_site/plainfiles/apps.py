from django.apps import AppConfig


class PlainFilesConfig(AppConfig):
    name = "tests.plain_site.plainfiles"
    label = "plainfiles"
    default_auto_field = "django.db.models.BigAutoField"
