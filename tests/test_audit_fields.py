"""r2_audit on plain file fields (no record model): every FileField's rows
checked by the key the storage itself resolves, missing objects and legacy
rows told apart, and names django-storages rewrites (``a//b``, ``./a``,
``a\\b``, ``/a``, ``x/../a``) protecting the objects they are served from
(issue 18, defect 1: ``--delete-orphans --yes`` deleted those five)."""

import json
import posixpath
import unicodedata
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.models import Attachment, UserImage
from r2_toolkit.core.files import object_key
from tests.conftest import reset_storage_cache
from tests.support.audit import put_objects
from tests.support.backfill import audit, keys_in

pytestmark = pytest.mark.django_db

HOSTILE = [  # FileField values django-storages serves, each under a cleaned key
    "users/bob/files//doc1.txt",
    "./doc2.txt",
    "users\\bob\\files\\doc3.txt",
    "/users/bob/files/doc4.txt",
    "users/bob/x/../files/doc5.txt",
]
SERVED_FROM = [
    "users/bob/files/doc1.txt",
    "doc2.txt",
    "users/bob/files/doc3.txt",
    "users/bob/files/doc4.txt",
    "users/bob/files/doc5.txt",
]


@pytest.fixture
def plain_site(settings, moto_bucket, media_root):
    """No record model: the site's file fields alone."""
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}
    reset_storage_cache()
    return moto_bucket


def bob():
    return get_user_model().objects.get_or_create(username="bob")[0]


def attach(*names):
    user = bob()
    return Attachment.objects.bulk_create([Attachment(user=user, file=name) for name in names])


def document(*args):
    result = audit("--format", "json", "--grace", "0", *args)
    return result.code, json.loads(result.stdout)


def keys_by_kind(doc):
    found = {}
    for finding in doc["findings"]:
        found.setdefault(finding["kind"], set()).add(finding["storage_key"])
    return found


def read(name):
    reset_storage_cache()
    with default_storage.open(name) as stream:
        return stream.read()


def test_plain_fields_missing_objects_and_legacy_rows(plain_site, media_root):
    client, bucket = plain_site.client, plain_site.name
    attach("users/bob/files/here.pdf", "users/bob/files/gone.pdf", "users/bob/files/local.pdf")
    UserImage.objects.create(user=bob(), image="photos/gone.jpg")  # a plain ImageField here
    put_objects(client, bucket, ["users/bob/files/here.pdf", "stray.bin"])
    (media_root / "users/bob/files").mkdir(parents=True)
    (media_root / "users/bob/files/local.pdf").write_bytes(b"%PDF-1.4 waiting")

    code, doc = document()

    assert code == 1
    assert keys_by_kind(doc) == {
        "missing_object": {"users/bob/files/gone.pdf", "photos/gone.jpg"},
        "legacy_row": {"users/bob/files/local.pdf"},
        "orphan_object": {"stray.bin"},
    }
    missing = {f["detail"]["field"] for f in doc["findings"] if f["kind"] == "missing_object"}
    assert missing == {"gallery.Attachment.file", "gallery.UserImage.image"}
    assert doc["summary"]["rows"] == 4 and doc["summary"]["objects"] == 2

    client.delete_object(Bucket=bucket, Key="stray.bin")
    Attachment.objects.filter(file="users/bob/files/gone.pdf").delete()
    UserImage.objects.all().delete()
    code, doc = document()
    assert code == 0, doc  # a legacy row alone is not a failure
    assert doc["summary"]["legacy_row"] == 1 and doc["ok"] is True


@pytest.mark.parametrize("record_model", [None, "gallery.UserImage"])
def test_rewritten_names_protect_their_objects_from_delete_orphans(
    plain_site, settings, record_model
):
    """Issue 18, defect 1: these five objects were deleted by the old audit."""
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": record_model}
    client, bucket = plain_site.client, plain_site.name
    attach(*HOSTILE)
    put_objects(client, bucket, [*SERVED_FROM, "users/bob/files/orphan.txt"])
    bodies = [read(name) for name in HOSTILE]  # django-storages serves every one

    code, doc = document("--delete-orphans", "--yes")

    assert keys_by_kind(doc) == {"orphan_object": {"users/bob/files/orphan.txt"}}
    assert code == 0 and doc["summary"]["quarantined"] == 1
    assert [read(name) for name in HOSTILE] == bodies  # still served, byte for byte
    day = datetime.now(UTC).date().isoformat()
    assert keys_in(plain_site) == sorted(
        [*SERVED_FROM, f"r2-toolkit-quarantine/{day}/users/bob/files/orphan.txt"]
    )
    assert document()[0] == 0


def test_a_name_the_storage_refuses_is_reported_and_protects_what_it_might_mean(
    plain_site, settings
):
    settings.AWS_LOCATION = "media"  # "/users/..." now escapes the location
    reset_storage_cache()
    client, bucket = plain_site.client, plain_site.name
    attach("/users/bob/files/doc4.txt", "../up.txt")
    put_objects(client, bucket, ["media/users/bob/files/doc4.txt", "media/up.txt", "media/o.txt"])

    code, doc = document("--delete-orphans", "--yes")

    assert code == 1
    found = keys_by_kind(doc)
    assert found["orphan_object"] == {"media/o.txt"}
    refused = [f for f in doc["findings"] if f["kind"] == "missing_object"]
    assert {f["detail"]["name"] for f in refused} == {"/users/bob/files/doc4.txt", "../up.txt"}
    assert all("refuses" in f["detail"]["message"] for f in refused)
    left = keys_in(plain_site)
    assert "media/users/bob/files/doc4.txt" in left and "media/up.txt" in left


NFC, NFD = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
segment = st.lists(
    st.sampled_from(["a", "b", "Z", "1", " ", NFC, NFD, "中"]), min_size=1, max_size=3
).map("".join)
separator = st.sampled_from(["/", "//", "\\", "/./", "/../x/../"])
hostile_name = st.builds(
    lambda lead, parts, seps: lead + "".join(p + s for p, s in zip(parts, seps, strict=False)),
    st.sampled_from(["", "/", "./", "x/../", "\\"]),
    st.lists(segment, min_size=1, max_size=4),
    st.lists(separator, min_size=4, max_size=4),
).map(lambda name: name.rstrip("/\\") + ".txt")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(hostile_name, min_size=1, max_size=6, unique=True))
def test_no_object_a_row_reads_is_ever_an_orphan(make_bucket, moto_server, settings, names):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}
    Attachment.objects.all().delete()
    bucket = make_bucket(moto_server, cors=False, public=False)
    # Objects at every key a name might plausibly be read from, each body its key.
    candidates = set()
    for name in names:
        slashed = name.replace("\\", "/")
        candidates |= {slashed.lstrip("/"), posixpath.normpath(slashed).lstrip("/")}
        candidates.add(object_key(default_storage, name) or "")
    candidates = {key for key in candidates if key and ".." not in key.split("/")}
    candidates = {key for key in candidates if "//" not in key and "/./" not in key}
    put_objects(bucket.client, bucket.name, sorted(candidates), threads=4, body=str.encode)
    attach(*names)
    served = set()
    for name in names:
        try:
            served.add(read(name).decode())  # the key it was read from
        except Exception:  # refused or not there: it reads nothing
            pass

    code, doc = document("--delete-orphans", "--yes")

    orphans = keys_by_kind(doc).get("orphan_object", set())
    assert not orphans & served, (names, orphans & served)
    for key in served:  # still there to read
        assert bucket.client.get_object(Bucket=bucket.name, Key=key)["Body"].read() == key.encode()
    assert code in (0, 1)


def test_a_record_row_not_migrated_yet_is_a_legacy_row_even_with_its_object_there(
    moto_bucket, media_root
):
    """With IMAGE_MODEL set, a row whose storage_key is empty waits for the
    backfill to fill its columns, whether or not its file is uploaded."""
    client, bucket = moto_bucket.client, moto_bucket.name
    uploaded, waiting = "users/bob/images/up.jpg", "users/bob/images/wait.jpg"
    UserImage.objects.create(user=bob(), image=uploaded)
    UserImage.objects.create(user=bob(), image=waiting)
    put_objects(client, bucket, [uploaded])
    (media_root / waiting).parent.mkdir(parents=True)
    (media_root / waiting).write_bytes(b"jpeg")

    code, doc = document()

    assert code == 0, doc
    assert keys_by_kind(doc) == {"legacy_row": {uploaded, waiting}}
    messages = {f["storage_key"]: f["detail"]["message"] for f in doc["findings"]}
    assert "storage_key is still empty" in messages[uploaded]


any_name = st.lists(st.sampled_from(list("ab./\\ _~:%") + [NFC, NFD]), min_size=1, max_size=10).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(name=any_name, location=st.sampled_from(["", "media", "media/sub/", "m é/x"]))
def test_every_name_not_its_own_key_is_picked_out_as_unclean(name, location):
    """The audit keys 'clean' names as location + name without asking the
    storage (a request-free merge); every other name goes through the
    storage's own rule. That split must never misfile a name."""
    from storages.backends.s3 import S3Storage

    from r2_toolkit.migrations_r2.references import location_prefix, looks_unclean

    storage = S3Storage(location=location, bucket_name="b")
    if not looks_unclean(name):
        assert object_key(storage, name) == location_prefix(storage) + name


@given(names=st.lists(any_name, min_size=1, max_size=8, unique=True))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_sql_filter_picks_out_exactly_the_unclean_names(names):
    from r2_toolkit.migrations_r2.references import looks_unclean, maybe_unclean

    Attachment.objects.all().delete()
    attach(*names)
    picked = Attachment.objects.filter(maybe_unclean("file")).values_list("file", flat=True)
    assert set(picked) == {name for name in names if looks_unclean(name)}


def test_file_fields_narrow_the_rows_audited_never_the_references(plain_site, settings):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "FILE_FIELDS": ["gallery.Attachment.file"]}
    attach("users/bob/files/gone.pdf")
    UserImage.objects.create(user=bob(), image="photos/kept.jpg")
    UserImage.objects.create(user=bob(), image="photos/not-audited.jpg")
    put_objects(plain_site.client, plain_site.name, ["photos/kept.jpg"])

    code, doc = document("--delete-orphans", "--yes")

    assert code == 1
    assert keys_by_kind(doc) == {"missing_object": {"users/bob/files/gone.pdf"}}
    assert doc["summary"]["rows"] == 1
    assert keys_in(plain_site) == ["photos/kept.jpg"]  # an image row still protects it
