from django.apps import AppConfig


class MigrationsR2Config(AppConfig):
    name = "r2_toolkit.migrations_r2"
    label = "r2_migrations"
    verbose_name = "R2 Toolkit: legacy media backfill"
