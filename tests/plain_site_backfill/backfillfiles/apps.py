from django.apps import AppConfig


class BackfillFilesConfig(AppConfig):
    name = "tests.plain_site_backfill.backfillfiles"
    label = "backfillfiles"
    default_auto_field = "django.db.models.BigAutoField"
