"""What a legacy file really is: MIME type from its first bytes (never the
extension), width and height from its header via Pillow with the
decompression-bomb guard on, and size. The MD5 (for boto3's Content-MD5
and for comparing with an object already in the bucket) is computed only
when one of those asks for it: the native path signs the body's SHA-256
instead, which the server checks (see native.py), and MD5 was the largest
CPU cost of probing.

Files up to STREAM_THRESHOLD are returned in memory so the upload sends
exactly the bytes that were probed; bigger ones are re-read from disk.
"""

import base64
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from functools import cached_property

from PIL import Image, UnidentifiedImageError

STREAM_THRESHOLD = 8 * 1024 * 1024
# Pillow's own default, used when a project switched the guard off.
DEFAULT_MAX_PIXELS = int(1024 * 1024 * 1024 // 4 // 3)

# (magic test, Pillow format, MIME type). Pillow opens only the format the
# bytes announce, so a text file named .jpg is never "identified" as a
# lenient format such as TGA.
SIGNATURES = (
    (lambda h: h.startswith(b"\xff\xd8\xff"), "JPEG", "image/jpeg"),
    (lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), "PNG", "image/png"),
    (lambda h: h[:6] in (b"GIF87a", b"GIF89a"), "GIF", "image/gif"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", "WEBP", "image/webp"),
    (lambda h: h[:2] == b"BM", "BMP", "image/bmp"),
    (lambda h: h[:4] in (b"II*\x00", b"MM\x00*"), "TIFF", "image/tiff"),
    (lambda h: h[:4] == b"\x00\x00\x01\x00", "ICO", "image/x-icon"),
)


class NotAnImage(Exception):
    """The file cannot be backfilled as an image; ``str(exc)`` is the reason."""


class DecompressionBomb(NotAnImage):
    """More pixels than Pillow's guard allows (PIL.Image.MAX_IMAGE_PIXELS)."""


@dataclass(frozen=True)
class ProbedFile:
    path: str
    mime_type: str
    width: int
    height: int
    size: int
    body: bytes | None  # the bytes, when small enough to keep

    @cached_property
    def md5_hex(self):
        if self.body is not None:
            return hashlib.md5(self.body, usedforsecurity=False).hexdigest()
        with open(self.path, "rb") as stream:
            return hashlib.file_digest(
                stream, lambda: hashlib.md5(usedforsecurity=False)
            ).hexdigest()

    @property
    def content_md5(self):
        return base64.b64encode(bytes.fromhex(self.md5_hex)).decode("ascii")

    def open(self):
        """A binary stream of the exact bytes to upload."""
        return io.BytesIO(self.body) if self.body is not None else open(self.path, "rb")


def sniff(head):
    for matches, fmt, mime in SIGNATURES:
        if matches(head):
            return fmt, mime
    return None, None


def is_complete(fmt, data_tail, size, head):
    """Cheap structural end-of-file checks that catch truncated uploads
    without decoding every pixel."""
    if fmt == "JPEG":
        return b"\xff\xd9" in data_tail[-64:]
    if fmt == "PNG":
        return data_tail.endswith(b"IEND\xaeB`\x82")
    if fmt == "GIF":
        return data_tail.rstrip(b"\x00").endswith(b";")
    if fmt == "WEBP":
        return int.from_bytes(head[4:8], "little") + 8 <= size
    return True


def read_file(path):
    """(size, body or None, first bytes, last bytes): a big file's head and
    tail only, since its upload reads it again part by part."""
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size <= STREAM_THRESHOLD:
            body = stream.read()
            return len(body), body, body[:32], body[-64:]
        head = stream.read(32)
        stream.seek(-64, os.SEEK_END)
        return size, None, head, stream.read(64)


def dimensions(path, fmt, body, decode=False):
    """(width, height) from the header, refusing decompression bombs;
    ``decode`` also decodes the pixels (to tell a truncated file from one
    with trailing bytes after its end marker)."""
    limit = Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_PIXELS
    try:
        with Image.open(io.BytesIO(body) if body is not None else path, formats=[fmt]) as image:
            width, height = image.size
            if decode and width * height <= limit:
                image.load()
    except Image.DecompressionBombError as exc:
        raise DecompressionBomb(f"decompression bomb refused: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(f"not a readable {fmt} image: {exc}") from None
    if width <= 0 or height <= 0:
        raise NotAnImage(f"the {fmt} header gives no dimensions")
    if width * height > limit:
        raise DecompressionBomb(
            f"decompression bomb refused: {width}x{height} pixels exceeds the "
            f"limit of {limit} (PIL.Image.MAX_IMAGE_PIXELS)"
        )
    return width, height


def probe_file(path):
    """A ProbedFile for ``path``; NotAnImage or FileNotFoundError otherwise."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a directory or FIFO would hang or fail
        raise NotAnImage("the name points at a directory or special file, not a regular file")
    size, body, head, tail = read_file(path)
    if size == 0:
        raise NotAnImage("empty file (0 bytes)")
    fmt, mime = sniff(head)
    if fmt is None:
        raise NotAnImage("not an image: the content matches no known image format")
    complete = is_complete(fmt, tail, size, head)
    try:
        width, height = dimensions(path, fmt, body, decode=not complete)
    except NotAnImage as exc:
        if complete or isinstance(exc, DecompressionBomb):
            raise
        raise NotAnImage(f"truncated {fmt} file: {exc}") from None
    return ProbedFile(str(path), mime, width, height, size, body)
