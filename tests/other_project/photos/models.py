"""An image model with the R2 columns under the project's own names."""

from django.conf import settings
from django.db import models


class Photo(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    file = models.FileField(upload_to="uploads/%Y/%m/", max_length=255)
    title = models.CharField(max_length=200, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    # NULL, not "": legacy rows are the ones whose object_key IS NULL.
    object_key = models.CharField(max_length=1024, null=True, blank=True)  # noqa: DJ001
    cdn_url = models.URLField(max_length=1024, null=True, blank=True)  # noqa: DJ001
    content_type = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    pixel_width = models.PositiveIntegerField(null=True, blank=True)
    pixel_height = models.PositiveIntegerField(null=True, blank=True)
    byte_size = models.PositiveBigIntegerField(null=True, blank=True)

    def __str__(self):
        return self.file.name
