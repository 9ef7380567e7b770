from django.db import models


class Photo(models.Model):
    image = models.ImageField(upload_to="photos/")


class Document(models.Model):
    file = models.FileField(upload_to="docs/", max_length=300)
