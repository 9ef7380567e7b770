"""A plain model: its files are whatever its ImageField holds, nothing more."""

from django.db import models


class Snapshot(models.Model):
    image = models.ImageField(upload_to="photos/")
    taken = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.image.name
