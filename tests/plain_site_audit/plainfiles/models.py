from django.db import models


class Photo(models.Model):
    image = models.ImageField(upload_to="photos/")

    def __str__(self):
        return self.image.name


class Document(models.Model):
    file = models.FileField(upload_to="docs/", max_length=300)

    def __str__(self):
        return self.file.name
