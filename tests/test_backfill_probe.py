"""The image probe on arbitrary bytes: it either describes a real image or
refuses with a reason; it never crashes a run and never trusts a name."""

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.legacy import image_bytes
from r2_toolkit.migrations_r2.probe import NotAnImage, probe_file

MAGIC = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"BM",
    b"II*\x00",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(MAGIC), st.binary(max_size=400))
def test_arbitrary_bytes_are_an_image_or_a_reason(tmp_path, magic, tail):
    path = tmp_path / "photo.jpg"
    path.write_bytes(magic + tail)
    try:
        probed = probe_file(path)
    except NotAnImage as exc:
        assert str(exc)
        return
    if probed.width is None:  # not an image Pillow reads: a type, no dimensions
        assert probed.height is None and probed.mime_type
    else:
        assert probed.width > 0 and probed.height > 0
    assert probed.md5_hex == hashlib.md5(magic + tail).hexdigest()


def test_the_type_comes_from_the_bytes_not_the_extension(tmp_path):
    path = tmp_path / "really-a-png.jpg"
    content = image_bytes(7, 5, "PNG")
    path.write_bytes(content)
    probed = probe_file(path)
    assert (probed.mime_type, probed.width, probed.height, probed.size) == (
        "image/png",
        7,
        5,
        len(content),
    )
    assert probed.open().read() == content


def test_a_jpeg_with_bytes_after_its_end_marker_is_still_accepted(tmp_path):
    path = tmp_path / "camera.jpg"
    path.write_bytes(image_bytes(9, 9, "JPEG") + b"\x00" * 200)  # some cameras pad files
    assert probe_file(path).mime_type == "image/jpeg"
