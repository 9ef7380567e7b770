"""Secret redaction for every output of the toolkit.

Two layers, because either alone leaks: values under secret-looking keys are
replaced wherever they sit in a structure, and every rendered string is
scrubbed of the secret values the settings actually hold (an access key that
ends up inside an exception message or a URL has no key name beside it).
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

MASK = "[redacted]"

SECRET_NAME = re.compile(
    r"(^|[_-])(secret|password|passwd|token|credentials?|private_key|access_key(_id)?|"
    r"(aws)?accesskeyid|api_key|cloudfront_key|authorization|cookie)($|[_-])|signature$",
    re.IGNORECASE,
)

# Query parameters that carry a signature or a credential in presigned URLs
# (SigV4, SigV2, CloudFront) and common token parameters.
SECRET_QUERY = re.compile(
    r"(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|"
    r"AWSAccessKeyId|Key-Pair-Id|Policy|token|access_token|password)=([^&\s\"'<>]+)"
)
URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s\"']*):([^@/\s\"']+)@")

# Values too short to scrub by value without mangling ordinary words.
MIN_SECRET_LENGTH = 6


def is_secret_name(name):
    return bool(SECRET_NAME.search(str(name)))


def redact_url(url):
    """The URL with any password and signed query values masked."""
    if not isinstance(url, str) or "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    query = urlencode(
        [(k, MASK if SECRET_QUERY.match(f"{k}=x") else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="[]",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def known_secrets():
    """Every secret value the current settings hold, longest first."""
    found = set()
    for name in ("SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
                 "AWS_S3_SECRET_ACCESS_KEY", "AWS_S3_ACCESS_KEY_ID", "AWS_SECURITY_TOKEN"):
        found.add(getattr(settings, name, None))
    found.add((getattr(settings, "R2_TOOLKIT", None) or {}).get("TOKEN"))
    for db in getattr(settings, "DATABASES", {}).values():
        found.add(db.get("PASSWORD"))
    for config in getattr(settings, "STORAGES", {}).values():
        for key, value in (config.get("OPTIONS") or {}).items():
            if is_secret_name(key) and isinstance(value, str):
                found.add(value)
    return sorted((s for s in found if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH),
                  key=len, reverse=True)


def scrub(text, secrets=None):
    """``text`` with every known secret value, URL password and signature masked."""
    if not isinstance(text, str):
        return text
    for secret in known_secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    text = URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return SECRET_QUERY.sub(rf"\1={MASK}", text)


def redact(value, secrets=None, *, key=None):
    """A copy of ``value`` (dicts, lists, strings, scalars) safe to show."""
    if secrets is None:
        secrets = known_secrets()
    if key is not None and is_secret_name(key) and value not in (None, "", False):
        return MASK
    if isinstance(value, dict):
        return {k: redact(v, secrets, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(repr(value), secrets)
