"""Plain HTTP for the checks that must act as a browser does (an anonymous
GET of a public URL, a presigned PUT, a CORS preflight), outside boto3."""

import re
import urllib.error
import urllib.request
from email.message import Message

S3_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
S3_MESSAGE = re.compile(rb"<Message>([^<]{1,300})</Message>")


def fetch(
    request: urllib.request.Request | str, timeout: float, limit: int | None = None
) -> tuple[int, Message, bytes]:
    """(status, headers, body) of ``request``; HTTP errors are answers too.
    ``limit`` caps the bytes read from the body."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read(limit)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read() if limit is None else exc.read(limit)


def s3_error(body: bytes) -> tuple[str, str]:
    """(Code, Message) of an S3 XML error body; empty strings where absent."""
    found = (S3_CODE.search(body), S3_MESSAGE.search(body))
    code, message = (m.group(1).decode("utf-8", "replace") if m else "" for m in found)
    return code, message
