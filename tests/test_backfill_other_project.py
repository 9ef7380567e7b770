"""r2_backfill in someone else's project (tests/other_project): the image
model is photos.Photo, with its own names for the file field, the owner and
the six R2 columns (R2_TOOLKIT FIELD_MAP / IMAGE_FIELD / USERNAME_PATH), and
the reference app is not installed. Run through manage.py in a real process."""

import json
from pathlib import Path

from tests.support.backfill import fetch, object_bytes
from tests.support.servers import manage_env, run_manage
from tests.test_other_project import other_project_env

SEED_AND_BACKFILL = """
import io, json
from pathlib import Path
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from PIL import Image
from tests.other_project.photos.models import Photo

owner = User.objects.create(username="carol")
for name, fmt, size in [("uploads/2019/07/sunset.jpg", "JPEG", (30, 20)),
                        ("uploads/2019/08/sunset.jpg", "PNG", (17, 9))]:
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, fmt)
    path.write_bytes(buffer.getvalue())
    Photo.objects.create(owner=owner, file=name)
try:
    call_command("r2_backfill")
    code = 0
except SystemExit as exc:
    code = exc.code
print("RESULT", json.dumps({"code": code, "media_root": str(settings.MEDIA_ROOT),
      "rows": list(Photo.objects.order_by("file").values())}, default=str))
"""


def test_backfill_uses_the_projects_model_and_field_names(moto_bucket, tmp_path):
    env = other_project_env(tmp_path, manage_env(moto_bucket.server, moto_bucket.name, tmp_path))
    assert run_manage("migrate", "-v0", env=env).returncode == 0

    result = run_manage("shell", "-c", SEED_AND_BACKFILL, env=env)

    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))
    outcome = json.loads(line.removeprefix("RESULT "))
    assert outcome["code"] == 0, result.stdout + result.stderr
    keys = set()
    legacy = {  # content type -> (the legacy name, width, height)
        "image/jpeg": ("uploads/2019/07/sunset.jpg", 30, 20),
        "image/png": ("uploads/2019/08/sunset.jpg", 17, 9),
    }
    for row in outcome["rows"]:
        name, width, height = legacy[row["content_type"]]
        local = (Path(outcome["media_root"]) / name).read_bytes()
        # Its KEY_TEMPLATE puts names outside the app's layout under the
        # owner, with a hash of the legacy name (the two "sunset.jpg" files do
        # not collide), and renames the row to its key: url() and key agree.
        assert row["object_key"].startswith("users/carol/images/sunset-")
        assert row["file"] == row["object_key"]
        assert (row["pixel_width"], row["pixel_height"]) == (width, height)
        assert row["byte_size"] == len(local)
        assert object_bytes(moto_bucket, row["object_key"]) == local
        assert fetch(row["cdn_url"]) == local
        keys.add(row["object_key"])
    assert len(keys) == 2
