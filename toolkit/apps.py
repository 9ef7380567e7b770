from django.apps import AppConfig


class ToolkitConfig(AppConfig):
    name = "toolkit"
    verbose_name = "R2 Toolkit"

    def ready(self):
        # Registers the static checks with Django's system check framework
        # under the tag "r2" (`manage.py check --deploy --tag r2`).
        from checks import system  # noqa: F401
