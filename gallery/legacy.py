"""Legacy images for the demo, the tests and the benchmarks: real JPEG and
PNG files written under MEDIA_ROOT with rows pointing at them, as the app had
before the move to R2 (``storage_key`` empty)."""

import io
import random
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from PIL import Image

from gallery.models import UserImage


def image_bytes(width, height, fmt="JPEG", seed=0, noise=0):
    """A real image; ``noise`` bytes of random pixels make it incompressible
    enough to reach a target size."""
    rng = random.Random(seed)
    image = Image.new(
        "RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    )
    if noise:
        side = max(1, int((noise / 3) ** 0.5))
        patch = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        image.paste(patch.resize((min(side, width), min(side, height))), (0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def create_legacy_images(
    count, users=("alice", "bob"), media_root=None, size=(64, 48), noise=0, seed=0
):
    """``count`` legacy rows with files on disk, alternating JPEG and PNG."""
    media_root = Path(media_root or settings.MEDIA_ROOT)
    owners = [get_user_model().objects.get_or_create(username=name)[0] for name in users]
    rows = []
    for index in range(count):
        fmt, ext = ("JPEG", "jpg") if index % 2 == 0 else ("PNG", "png")
        user = owners[index % len(owners)]
        name = f"users/{user.username}/images/legacy-{seed}-{index:06d}.{ext}"
        path = media_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(*size, fmt=fmt, seed=seed * 1_000_003 + index, noise=noise))
        rows.append(UserImage(user=user, image=name, caption=f"legacy image {index}"))
    UserImage.objects.bulk_create(rows, batch_size=500)
    return rows
