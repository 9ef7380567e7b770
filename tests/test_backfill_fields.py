"""r2_backfill in field mode (no record model): the site's file fields, each
row's file uploaded under the key its own name resolves to, against a real
moto server. The to-do list comes from listing the bucket; no row is
rewritten; a shared name is uploaded once; every file type gets its type."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from gallery.legacy import image_bytes
from gallery.models import Attachment, UserImage
from r2_toolkit.core.files import object_key, parse_label
from r2_toolkit.migrations_r2.engine import Options
from r2_toolkit.migrations_r2.field_mode import FieldMode
from tests.conftest import reset_storage_cache
from tests.support.backfill import backfill, keys_in, object_bytes, report_lines
from tests.support.netproxy import Proxy

pytestmark = pytest.mark.django_db
FIELD = "gallery.Attachment.file"


@pytest.fixture
def plain_site(settings, moto_bucket, media_root):
    """No record model: the site's file fields alone."""
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "IMAGE_MODEL": None}
    reset_storage_cache()
    return moto_bucket


@pytest.fixture
def bob():
    return get_user_model().objects.create(username="bob")


def attach(user, media_root, name, content=b"hello"):
    if content is not None:
        path = media_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return Attachment.objects.create(user=user, file=name)


# An AVIF file's first box (ISO-BMFF ftyp, major brand avif): what the probe
# sniffs when the Pillow at hand cannot read AVIF (before 11.2, the matrix's
# oldest end), where it cannot write one either.
AVIF_FTYP = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"


def avif_bytes():
    Image.init()
    if "AVIF" not in Image.SAVE:
        return AVIF_FTYP
    stream = io.BytesIO()
    Image.new("RGB", (6, 4), (10, 20, 30)).save(stream, "AVIF")
    return stream.getvalue()


def by_key(report):
    return {line["storage_key"]: line for line in report_lines(report)}


def test_list_fields_prints_each_target_with_its_row_count(plain_site, media_root, bob):
    attach(bob, media_root, "docs/a.txt")
    attach(bob, media_root, "docs/b.txt")
    UserImage.objects.create(user=bob, image="")  # no name: not counted

    result = backfill("--list-fields")

    assert result.code == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines[FIELD].startswith("2 row(s) with a file")
    assert lines["gallery.UserImage.image"].startswith("0 row(s) with a file")
    assert keys_in(plain_site) == []  # listing the fields sends nothing


def test_files_land_under_their_own_names_once_and_a_second_run_does_nothing(
    plain_site, media_root, bob, tmp_path, settings
):
    first = attach(bob, media_root, "users/bob/files/report.pdf", b"%PDF-1.4 body")
    twin = Attachment.objects.create(user=bob, file=first.file.name)  # a copied row
    svg = attach(bob, media_root, "docs/logo.svg", b'<?xml version="1.0"?><svg xmlns="x"/>')
    avif = attach(bob, media_root, "docs/photo.avif", avif_bytes())
    blob = attach(bob, media_root, "docs/blob", b"\x00\x01\x02")
    report = tmp_path / "report.jsonl"

    result = backfill("--field", FIELD, "--report", str(report), "--workers", "2")

    assert result.code == 0, result.stdout + result.stderr
    assert "uploaded 4, adopted 0, skipped 0, failed 0" in result.stdout
    rows = [first, svg, avif, blob]
    assert keys_in(plain_site) == sorted(object_key(default_storage, r.file.name) for r in rows)
    lines = by_key(report)
    assert len(report_lines(report)) == 4  # the shared name: one line, its first row
    assert lines[first.file.name]["id"] == str(first.pk)
    assert {line["model"] for line in lines.values()} == {FIELD}
    for row, content_type in [
        (first, "application/pdf"),
        (svg, "image/svg+xml"),
        (avif, "image/avif"),
        (blob, "application/octet-stream"),
    ]:
        head = plain_site.client.head_object(Bucket=plain_site.name, Key=row.file.name)
        assert head["ContentType"] == content_type
        row.refresh_from_db()
        with row.file.open() as stream:  # the row is untouched and its field serves the file
            assert stream.read() == (media_root / row.file.name).read_bytes()
    twin.refresh_from_db()
    assert twin.file.name == first.file.name

    with Proxy(plain_site.server.endpoint_url) as proxy:
        settings.AWS_S3_ENDPOINT_URL = proxy.url
        again = backfill("--field", FIELD, "--report", str(report))
        requests = dict(proxy.counts)

    assert again.code == 0, again.stdout + again.stderr
    assert requests == {"GET": 1}  # one ListObjectsV2 page: no PUT, no HEAD
    assert "uploaded 0, adopted 0, skipped 4, failed 0" in again.stdout
    assert {line["status"] for line in report_lines(report)} == {"skipped"}


def test_missing_and_escaping_files_fail_with_their_reason_and_the_rest_lands(
    plain_site, media_root, bob, tmp_path
):
    good = attach(bob, media_root, "docs/ok.txt")
    gone = attach(bob, media_root, "docs/gone.txt", content=None)
    outside = attach(bob, media_root, "../outside.txt", content=None)
    report = tmp_path / "report.jsonl"

    result = backfill("--field", FIELD, "--report", str(report))

    assert result.code == 1
    reasons = {line["id"]: line for line in report_lines(report)}
    assert reasons[str(gone.pk)]["status"] == "failed"
    assert "missing file" in reasons[str(gone.pk)]["reason"]
    assert reasons[str(outside.pk)]["status"] == "failed"
    assert keys_in(plain_site) == [good.file.name]


def test_an_object_already_in_the_bucket_is_never_overwritten(plain_site, media_root, bob):
    row = attach(bob, media_root, "docs/taken.txt", b"ours")
    plain_site.client.put_object(Bucket=plain_site.name, Key="docs/taken.txt", Body=b"theirs")

    result = backfill("--field", FIELD)  # listed: done, never sent again

    assert result.code == 0
    assert "skipped 1" in result.stdout
    assert object_bytes(plain_site, row.file.name) == b"theirs"


def test_shards_are_disjoint_and_together_do_every_name(plain_site, media_root, bob, tmp_path):
    rows = [attach(bob, media_root, f"docs/file-{i}.txt", f"body {i}".encode()) for i in range(12)]
    reports = [tmp_path / "shard1.jsonl", tmp_path / "shard2.jsonl"]

    for index, report in enumerate(reports, start=1):
        result = backfill("--field", FIELD, "--shard", f"{index}/2", "--report", str(report))
        assert result.code == 0, result.stdout + result.stderr

    first, second = ({line["storage_key"] for line in report_lines(r)} for r in reports)
    assert first and second and not first & second
    assert first | second == {row.file.name for row in rows}
    assert keys_in(plain_site) == sorted(row.file.name for row in rows)


def test_an_interrupted_run_converges_on_the_next(plain_site, media_root, bob, tmp_path):
    rows = [attach(bob, media_root, f"docs/part-{i}.txt", f"part {i}".encode()) for i in range(7)]

    partial = backfill("--field", FIELD, "--limit", "3")
    rest = backfill("--field", FIELD)

    assert partial.code == 0 and rest.code == 0
    assert "uploaded 3" in partial.stdout
    assert "uploaded 4, adopted 0, skipped 3" in rest.stdout
    assert keys_in(plain_site) == sorted(row.file.name for row in rows)


def test_a_record_model_left_unset_means_field_mode_even_for_a_row_without_owner(
    plain_site, media_root, bob
):
    UserImage.objects.create(user=bob, image="photos/mine.png")
    (media_root / "photos").mkdir()
    (media_root / "photos/mine.png").write_bytes(image_bytes(5, 5, "PNG"))

    result = backfill("--field", "gallery.UserImage.image")

    assert result.code == 0, result.stdout + result.stderr
    assert keys_in(plain_site) == ["photos/mine.png"]
    assert UserImage.objects.get().storage_key is None  # no record column is touched


NAMES = st.one_of(
    st.sampled_from(["a//b.txt", "./c.txt", "d\\e.txt", "/f.txt", "g/../h.txt", "é.txt"]),
    st.text(  # any name a FileField can hold (PostgreSQL refuses NUL)
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=40,
    ),
)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
def test_the_key_of_any_name_is_the_storages_own(plain_site, bob, name):
    Attachment.objects.all().delete()
    Attachment.objects.create(user=bob, file=name)
    target = parse_label(FIELD)
    mode = FieldMode([target], None, Options(fields=(FIELD,)))
    mode.listed = set()  # nothing in the bucket: no request needed
    settled = []

    rows = list(mode.rows(lambda *line: settled.append(line), transfers=None))

    expected = object_key(default_storage, name)
    if expected is None:
        assert settled and settled[0][2] == "failed" and not rows
    else:
        assert [row.key for row in rows] == [expected]


def test_the_report_lines_are_json_with_the_contracts_keys(plain_site, media_root, bob, tmp_path):
    attach(bob, media_root, "docs/one.txt")
    report = tmp_path / "report.jsonl"

    backfill("--field", FIELD, "--report", str(report))

    (line,) = [json.loads(text) for text in report.read_text().splitlines()]
    assert set(line) == {"model", "id", "status", "reason", "storage_key", "bytes"}
    assert (line["status"], line["bytes"]) == ("uploaded", 5)


def test_a_dry_run_counts_what_is_to_do_and_writes_nothing(plain_site, media_root, bob):
    attach(bob, media_root, "docs/new.txt", b"12345")
    attach(bob, media_root, "docs/there.txt")
    attach(bob, media_root, "docs/gone.txt", content=None)
    plain_site.client.put_object(Bucket=plain_site.name, Key="docs/there.txt", Body=b"hello")

    result = backfill("--field", FIELD, "--dry-run")

    assert result.code == 0, result.stdout + result.stderr
    for line in ("rows selected: 3", "already in the bucket: 1", "missing files: 1"):
        assert line in result.stdout
    assert "bytes to upload: 5 " in result.stdout
    assert "e.g. docs/new.txt -> docs/new.txt" in result.stdout
    assert keys_in(plain_site) == ["docs/there.txt"]


@pytest.mark.parametrize("flag", ["--verify", "--rewrite-urls"])
def test_the_record_modes_only_flags_say_what_to_run_instead(plain_site, flag):
    with pytest.raises(CommandError) as raised:
        backfill(flag)

    assert raised.value.returncode == 2
    assert "r2_audit" in str(raised.value)
