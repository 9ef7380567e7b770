"""What a legacy file really is: its Content-Type sniffed from its first
bytes where the format is known (the images Pillow reads, PDF, SVG, the
AVIF/HEIC ``ftyp`` brands, zip and the office formats inside one), else
guessed from its name, else ``application/octet-stream``; width and height
from an image's header via Pillow with the decompression-bomb guard on (None
for anything Pillow does not read), and size. Every file type is uploaded: a
document is never "not an image"; only a file whose bytes claim (or whose
name claims) an image format Pillow reads and that does not hold one is refused. The MD5 (for boto3's Content-MD5
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
import mimetypes
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO, cast

from PIL import Image, UnidentifiedImageError

STREAM_THRESHOLD = 8 * 1024 * 1024
# Pillow's own default, used when a project switched the guard off.
DEFAULT_MAX_PIXELS = int(1024 * 1024 * 1024 // 4 // 3)

# ISO-BMFF brands (bytes 8-12 of an ``ftyp`` box) of AVIF stills and sequences.
AVIF_BRANDS = {b"avif", b"avis"}

# (magic test, Pillow format, MIME type). Pillow opens only the format the
# bytes announce, so a text file named .jpg is never "identified" as a
# lenient format such as TGA.
SIGNATURES: tuple[tuple[Callable[[bytes], bool], str, str], ...] = (
    (lambda h: h.startswith(b"\xff\xd8\xff"), "JPEG", "image/jpeg"),
    (lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), "PNG", "image/png"),
    (lambda h: h[:6] in (b"GIF87a", b"GIF89a"), "GIF", "image/gif"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", "WEBP", "image/webp"),
    (lambda h: h[:2] == b"BM", "BMP", "image/bmp"),
    (lambda h: h[:4] in (b"II*\x00", b"MM\x00*"), "TIFF", "image/tiff"),
    (lambda h: h[:4] == b"\x00\x00\x01\x00", "ICO", "image/x-icon"),
    (lambda h: ftyp_brand(h) in AVIF_BRANDS, "AVIF", "image/avif"),
)
HEAD_BYTES = 1024  # enough for an SVG's root element after an XML prolog
# ISO-BMFF brands of the HEIF family (HEIC stills, sequences, generic HEIF).
HEIF_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif-sequence",
}
OCTET_STREAM = "application/octet-stream"
# The image types whose name alone makes a claim the probe checks: a file
# named .jpg that holds text is a broken image, not a document.
PILLOW_TYPES = {mime for _, _, mime in SIGNATURES} | {"image/jpg", "image/pjpeg"}


def pillow_reads(fmt: str) -> bool:
    Image.init()  # registers the plugins once; cheap afterwards
    return fmt in Image.OPEN


def ftyp_brand(head: bytes) -> bytes | None:
    return head[8:12] if head[4:8] == b"ftyp" else None


def looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not text.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--")):
        return False
    return b"<svg" in text


def other_type(head: bytes, name: str | None) -> str:
    """The Content-Type of a file Pillow does not read: from its magic
    number where known, else from its name, else octet-stream."""
    guessed = mimetypes.guess_type(name)[0] if name else None
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    brand = ftyp_brand(head)
    if brand in HEIF_BRANDS:
        return HEIF_BRANDS[brand]
    if looks_like_svg(head):
        return "image/svg+xml"
    if head.startswith(b"PK\x03\x04"):  # docx, xlsx, odt, epub... are zip files
        return guessed if guessed and not guessed.startswith("text/") else "application/zip"
    return guessed or OCTET_STREAM


class NotAnImage(Exception):
    """The file cannot be backfilled as an image; ``str(exc)`` is the reason."""


class DecompressionBomb(NotAnImage):
    """More pixels than Pillow's guard allows (PIL.Image.MAX_IMAGE_PIXELS)."""


@dataclass(frozen=True)
class ProbedFile:
    path: str
    mime_type: str
    width: int | None  # None: not an image Pillow reads
    height: int | None
    size: int
    body: bytes | None  # the bytes, when small enough to keep

    @cached_property
    def md5_hex(self) -> str:
        if self.body is not None:
            return hashlib.md5(self.body, usedforsecurity=False).hexdigest()
        with open(self.path, "rb") as stream:
            return hashlib.file_digest(
                stream, lambda: hashlib.md5(usedforsecurity=False)
            ).hexdigest()

    @property
    def content_md5(self) -> str:
        return base64.b64encode(bytes.fromhex(self.md5_hex)).decode("ascii")

    def open(self) -> BinaryIO:
        """A binary stream of the exact bytes to upload."""
        return io.BytesIO(self.body) if self.body is not None else open(self.path, "rb")


def sniff(head: bytes) -> tuple[str, str] | tuple[None, None]:
    for matches, fmt, mime in SIGNATURES:
        if matches(head):
            return fmt, mime
    return None, None


def is_complete(fmt: str, data_tail: bytes, size: int, head: bytes) -> bool:
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


def read_file(path: str | os.PathLike[str]) -> tuple[int, bytes | None, bytes, bytes]:
    """(size, body or None, first bytes, last bytes): a big file's head and
    tail only, since its upload reads it again part by part."""
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size <= STREAM_THRESHOLD:
            body = stream.read()
            return len(body), body, body[:HEAD_BYTES], body[-64:]
        head = stream.read(HEAD_BYTES)
        stream.seek(-64, os.SEEK_END)
        return size, None, head, stream.read(64)


def dimensions(
    path: str | os.PathLike[str], fmt: str, body: bytes | None, decode: bool = False
) -> tuple[int, int]:
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


def probe_file(path: str | os.PathLike[str], name: str | None = None) -> ProbedFile:
    """A ProbedFile for ``path`` (``name``: the row's file name, whose
    extension guesses the type of content no magic number tells); NotAnImage
    for an empty file or a broken image, FileNotFoundError otherwise."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a directory or FIFO would hang or fail
        raise NotAnImage("the name points at a directory or special file, not a regular file")
    size, body, head, tail = read_file(path)
    if size == 0:
        raise NotAnImage("empty file (0 bytes)")
    fmt, mime = sniff(head)
    if fmt is None or not pillow_reads(fmt):  # e.g. AVIF on a Pillow without libavif
        return not_for_pillow(path, name, size, body, head, mime)
    complete = is_complete(fmt, tail, size, head)
    try:
        width, height = dimensions(path, fmt, body, decode=not complete)
    except NotAnImage as exc:
        if complete or isinstance(exc, DecompressionBomb):
            raise
        raise NotAnImage(f"truncated {fmt} file: {exc}") from None
    # sniff() gives a MIME type with every format it names.
    return ProbedFile(str(path), cast(str, mime), width, height, size, body)


def not_for_pillow(
    path: str | os.PathLike[str],
    name: str | None,
    size: int,
    body: bytes | None,
    head: bytes,
    sniffed: str | None = None,
) -> ProbedFile:
    """The ProbedFile of a file Pillow does not read (no width, no height),
    unless its name says it is an image Pillow reads: then it is broken."""
    mime = sniffed or other_type(head, name or os.path.basename(str(path)))
    if sniffed is None and mime in PILLOW_TYPES:
        raise NotAnImage(
            f"not an image: named like {mime} but the content matches no known image format"
        )
    return ProbedFile(str(path), mime, None, None, size, body)
