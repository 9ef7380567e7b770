"""The gate on a plain site (tests/plain_site_gate): one
``ImageField(upload_to="photos/")``, no record model, no browser origins,
nothing configured for the toolkit but the storage. Run as an operator
would, ``manage.py r2_check --format json`` in a real process against a real
S3 server: it passes while the site's files are in the bucket, and fails
r2.objects.sample, naming the field and the key, once one is not."""

import json
import re

import pytest

from tests.support.servers import manage_env, run_manage

SETTINGS = "tests.plain_site_gate.settings"
FIELD = "snapshots.Snapshot.image"
RECORD_IDS = (
    "r2.schema.image_model",
    "r2.schema.columns",
    "r2.schema.public_url_length",
    "r2.schema.storage_key_length",
)
# Three photos uploaded through the site's own storage, as its views would.
UPLOAD_PHOTOS = """
import io
from PIL import Image
from django.core.files.base import ContentFile
from tests.plain_site_gate.snapshots.models import Snapshot
for name in ("beach.png", "harbour.png", "old town.png"):
    data = io.BytesIO()
    Image.new("RGB", (4, 3), "teal").save(data, "PNG")
    print("NAME", Snapshot.objects.create(image=ContentFile(data.getvalue(), name=name)).image.name)
"""


def r2_check(env):
    result = run_manage("r2_check", "--format", "json", env=env)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result, {c["id"]: c for c in json.loads(result.stdout)["checks"]}


@pytest.fixture
def plain_site(make_bucket, moto_server, tmp_path):
    """The plain site, migrated, with three photos in a bucket without CORS rules."""
    bucket = make_bucket(moto_server, cors=False, origins=())
    env = manage_env(moto_server, bucket.name, tmp_path, DJANGO_SETTINGS_MODULE=SETTINGS)
    for command in (("migrate", "-v0"), ("shell", "-c", UPLOAD_PHOTOS)):
        done = run_manage(*command, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    names = re.findall(r"^NAME (.+)$", done.stdout, re.M)
    assert len(names) == 3 and all(n.startswith("photos/") for n in names)
    return bucket, env, names


def test_a_plain_site_whose_files_are_in_the_bucket_passes_the_gate(plain_site):
    bucket, env, names = plain_site
    result, checks = r2_check(env)

    failing = {i: c["message"] for i, c in checks.items() if c["status"] in ("fail", "warn")}
    assert result.returncode == 0 and failing == {}, failing
    sample = checks["r2.objects.sample"]
    assert sample["status"] == "pass"
    assert "3 newest file(s) of 1 file field(s)" in sample["message"]
    assert sorted(sample["details"]["sampled"][FIELD]) == sorted(names)
    assert checks["r2.schema.file_fields"]["details"]["fields"] == [FIELD]
    assert checks["r2.schema.file_name_lengths"]["status"] == "pass"
    # No record model: its checks skip with the reason, never fail.
    for check_id in RECORD_IDS:
        assert checks[check_id]["status"] == "skip", checks[check_id]
        assert "No record model configured" in checks[check_id]["message"]
    # No browser origins: the bucket has no CORS rules, and that is no failure.
    cors = [c for c in checks.values() if c["group"] == "cors"]
    assert cors and {c["status"] for c in cors} == {"skip"}
    public_cors = checks["r2.roundtrip.public_cors"]  # the custom domain's CORS
    assert public_cors["status"] == "skip"
    assert 'R2_TOOLKIT["CORS_ORIGINS"] is empty' in public_cors["message"]
    # Nothing of this repository's own site leaks into a foreign site's report.
    assert "gallery" not in result.stdout.lower()
    assert not re.search(r"R2_TOOLKIT_[A-Z]", result.stdout)


def test_a_plain_site_whose_newest_file_is_missing_fails_the_sample_naming_it(plain_site):
    bucket, env, names = plain_site
    gone = names[-1]  # the newest row's file, e.g. lost by an upload to local disk
    bucket.client.delete_object(Bucket=bucket.name, Key=gone)

    result, checks = r2_check(env)

    assert result.returncode == 1
    failing = {i for i, c in checks.items() if c["status"] == "fail"}
    assert failing == {"r2.objects.sample"}
    sample = checks["r2.objects.sample"]
    assert FIELD in sample["message"] and gone in sample["message"]
    assert "1 of the 3 newest file(s)" in sample["message"]
    assert "answer 404" in sample["message"]
    assert "MEDIA_ROOT" not in sample["message"]  # nowhere: not even waiting on local disk
    assert sample["details"]["missing"] == {FIELD: [gone]}
    assert f"r2_backfill --field {FIELD}" in sample["hint"]


DEBUG_CHECKS = """
import json
from django.contrib.auth.models import User
from django.test import Client
client = Client(HTTP_HOST="localhost")
client.force_login(User.objects.create_superuser("ops", "ops@example.test", "pw"))
answer = client.get("/debug/r2/checks")
found = {c["id"]: c for c in json.loads(answer.content)["checks"]}
print("SAMPLE", answer.status_code, found["r2.objects.sample"]["status"])
"""


def test_the_sample_is_read_only_so_the_debug_page_runs_it_too(plain_site):
    bucket, env, names = plain_site
    shown = run_manage("shell", "-c", DEBUG_CHECKS, env=env)
    assert "SAMPLE 200 pass" in shown.stdout, shown.stderr[-2000:]


# --- the sample in process, on this repository's own models -------------------------------
@pytest.mark.django_db
def test_the_sample_skips_without_rows_and_fails_until_the_files_are_uploaded(
    moto_bucket, settings, tmp_path
):
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from gallery.models import UserImage
    from r2_toolkit.checks.context import CheckContext
    from r2_toolkit.checks.registry import REGISTRY
    from r2_toolkit.checks.runner import evaluate

    def sample():
        return evaluate(REGISTRY["r2.objects.sample"], CheckContext("default", 10))

    assert sample().status == "skip" and "has rows yet" in sample().message
    user = get_user_model().objects.create(username="alice")
    names = [f"users/alice/images/{n}.jpg" for n in ("old", "a", "b", "c")]
    settings.MEDIA_ROOT = str(tmp_path)
    for name in names:
        UserImage.objects.create(user=user, image=name)
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\xff\xd8\xff")  # the legacy file, not uploaded yet
    missing = sample()
    assert missing.status == "fail"
    assert "3 of them still in MEDIA_ROOT, waiting for the backfill" in missing.message
    assert missing.details["missing"] == {"gallery.UserImage.image": names[:0:-1]}  # newest 3
    storage = storages.create_storage({"BACKEND": "storages.backends.s3.S3Storage"})
    for name in names[1:]:
        storage.save(name, ContentFile(b"\xff\xd8\xff"))
    found = sample()
    assert found.status == "pass", found.message
    assert found.details["sampled"] == {"gallery.UserImage.image": names[:0:-1]}
