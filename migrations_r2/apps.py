from django.apps import AppConfig


class MigrationsR2Config(AppConfig):
    name = "migrations_r2"
    label = "migrations_r2"
    verbose_name = "R2 Toolkit: legacy media backfill"
