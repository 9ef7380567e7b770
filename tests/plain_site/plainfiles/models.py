from django.db import models


class Photo(models.Model):
    image = models.ImageField(upload_to="photos/")

    def __str__(self):
        return self.image.name


class Document(models.Model):
    file = models.FileField(upload_to="docs/", max_length=300)

    def __str__(self):
        return self.file.name


class Picture(models.Model):
    """An ImageField that keeps its own dimensions, as Wagtail's images do."""

    image = models.ImageField(upload_to="pictures/", width_field="width", height_field="height")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self):
        return self.image.name


class Record(models.Model):
    """A record model keeping a subset of the R2 fields, its owner optional."""

    owner = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    image = models.ImageField(upload_to="records/", max_length=300)
    storage_key = models.CharField(max_length=300, null=True, blank=True)
    public_url = models.URLField(max_length=500, null=True, blank=True)
    mime_type = models.CharField(max_length=100, null=True, blank=True)

    def __str__(self):
        return self.image.name
