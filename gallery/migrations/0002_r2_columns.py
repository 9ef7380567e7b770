"""The six R2 columns, all nullable: legacy rows have none of them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial")]

    operations = [
        migrations.AddField(
            "userimage", "storage_key", models.CharField(blank=True, max_length=500, null=True)
        ),
        migrations.AddField("userimage", "public_url", models.URLField(blank=True, null=True)),
        migrations.AddField(
            "userimage", "mime_type", models.CharField(blank=True, max_length=100, null=True)
        ),
        migrations.AddField(
            "userimage", "width", models.PositiveIntegerField(blank=True, null=True)
        ),
        migrations.AddField(
            "userimage", "height", models.PositiveIntegerField(blank=True, null=True)
        ),
        migrations.AddField(
            "userimage", "size_bytes", models.PositiveIntegerField(blank=True, null=True)
        ),
    ]
