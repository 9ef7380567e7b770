from django.core.management.base import BaseCommand

from gallery.legacy import create_legacy_images


class Command(BaseCommand):
    help = "Write real JPEG/PNG legacy images into MEDIA_ROOT with rows pointing at them."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=8)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, count, seed, **options):
        rows = create_legacy_images(count, seed=seed, size=(320, 240), noise=20_000)
        self.stdout.write(f"created {len(rows)} legacy images under MEDIA_ROOT")
