"""The reference app's image model: the schema of the application the toolkit
grew from, legacy columns first, the six R2 columns added later."""

import uuid

from django.conf import settings
from django.db import models


def user_image_path(instance, filename):
    return f"users/{instance.user.username}/images/{filename}"


class UserImage(models.Model):
    class ImageType(models.TextChoices):
        PROFILE = "profile", "Profile"
        GALLERY = "gallery", "Gallery"
        COVER = "cover", "Cover"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    image = models.ImageField(upload_to=user_image_path, max_length=500)
    image_type = models.CharField(
        max_length=20, choices=ImageType.choices, default=ImageType.GALLERY
    )
    is_primary = models.BooleanField(default=False)
    caption = models.CharField(max_length=255, blank=True, default="")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Filled by uploads since the move to R2, and by r2_backfill for legacy rows.
    storage_key = models.CharField(max_length=500, null=True, blank=True)
    public_url = models.URLField(max_length=200, null=True, blank=True)
    mime_type = models.CharField(max_length=100, null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self):
        return f"{self.user} / {self.image.name}"


def attachment_path(instance, filename):
    return f"users/{instance.user.username}/files/{filename}"


class Attachment(models.Model):
    """A file a user attached to their profile: a second model with a
    FileField on the same storage as the images, so the toolkit's audit has
    references beyond the image model to respect."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=500)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} / {self.file.name}"
