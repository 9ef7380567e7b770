from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "tests.other_project.photos"
    label = "photos"
    default_auto_field = "django.db.models.BigAutoField"
