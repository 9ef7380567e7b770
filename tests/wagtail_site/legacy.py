"""The Wagtail site's content as it was before the move to the bucket: images
(real JPEG, PNG, WebP and AVIF), a rendition of each, two documents (PDF,
TXT) and an editor's avatar
saved through Wagtail's own models while the default storage was the local
disk, so their files are in MEDIA_ROOT and their rows hold Wagtail's names.
Run inside the site: ``manage.py shell -c "from tests.wagtail_site.legacy
import main; main()"``; prints one ``FILE <field> <name>`` line per file."""

import io

from django.core.files.base import ContentFile
from django.test.utils import override_settings
from PIL import Image as PillowImage

LOCAL_DISK = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
IMAGES = {  # file name: Pillow format
    "harbour.jpg": "JPEG",
    "lighthouse.png": "PNG",
    "dunes.webp": "WEBP",
    "tide.avif": "AVIF",  # Wagtail serves AVIF; Pillow >= 11.2 writes it
}
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%%EOF\n"
DOCUMENTS = {"annual report.pdf": PDF, "opening-hours.txt": b"Mon-Fri 9-17\n"}


def picture(name, kind, index):
    data = io.BytesIO()
    PillowImage.new("RGB", (60 + index, 40), (index * 70, 120, 200)).save(data, kind)
    return ContentFile(data.getvalue(), name=name)


def main():
    from django.contrib.auth import get_user_model
    from wagtail.documents.models import Document
    from wagtail.images.models import Image
    from wagtail.users.models import UserProfile

    with override_settings(STORAGES=LOCAL_DISK):
        for index, (name, kind) in enumerate(IMAGES.items()):
            image = Image.objects.create(title=name, file=picture(name, kind, index))
            rendition = image.get_rendition("fill-20x20")
            print("FILE wagtailimages.Image.file", image.file.name)
            print("FILE wagtailimages.Rendition.file", rendition.file.name)
        for name, data in DOCUMENTS.items():
            document = Document.objects.create(title=name, file=ContentFile(data, name=name))
            print("FILE wagtaildocs.Document.file", document.file.name)
        editor = get_user_model().objects.create_superuser("editor", "editor@example.test", "pw")
        profile = UserProfile.get_for_user(editor)
        profile.avatar = picture("editor.png", "PNG", 0)
        profile.save()
        print("FILE wagtailusers.UserProfile.avatar", profile.avatar.name)
