from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("photos", "0001_initial")]

    operations = [
        migrations.AddField(
            "photo", "object_key", models.CharField(blank=True, max_length=1024, null=True)
        ),
        migrations.AddField(
            "photo", "cdn_url", models.URLField(blank=True, max_length=1024, null=True)
        ),
        migrations.AddField(
            "photo", "content_type", models.CharField(blank=True, max_length=255, null=True)
        ),
        migrations.AddField(
            "photo", "pixel_width", models.PositiveIntegerField(blank=True, null=True)
        ),
        migrations.AddField(
            "photo", "pixel_height", models.PositiveIntegerField(blank=True, null=True)
        ),
        migrations.AddField(
            "photo", "byte_size", models.PositiveBigIntegerField(blank=True, null=True)
        ),
    ]
