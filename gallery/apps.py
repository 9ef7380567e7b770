from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery (reference app)"
    default_auto_field = "django.db.models.BigAutoField"
