"""Secret redaction for every output of the toolkit.

Two layers, because either alone leaks: values under secret-looking keys are
replaced wherever they sit in a structure, and every rendered string is
scrubbed of the secret values the settings actually hold (an access key that
ends up inside an exception message or a URL has no key name beside it).
A secret is scrubbed in every form it takes on the way out: as is, escaped
in JSON or repr(), and percent-encoded in a URL.
"""

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar, overload
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from django.conf import settings

from r2_toolkit.core.compat import mail_secrets

MASK = "[redacted]"

# Words that make a name secret wherever they appear in it, and words that do
# only at its end ("password" in PASSWORD_HASHERS names no secret).
SECRET_WORDS = {"secret", "secrets", "credential", "credentials", "passphrase"}
SECRET_LAST_WORDS = {"password", "passwd", "pwd", "token", "signature", "authorization", "cookie"}
SECRET_KEY_PAIR = re.compile(
    r"(^|_)(private|access|api|cloudfront|account|signing|encryption)"
    r"_?key(_|$)"
)
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# Query parameters that carry a signature or a credential in presigned URLs
# (SigV4, SigV2, CloudFront) and common token parameters.
SECRET_QUERY = re.compile(
    r"(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|Credential|"
    r"AWSAccessKeyId|Key-Pair-Id|Policy|token|access_token|password)=([^&\s\"'<>]+)"
)
URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s\"']*):([^/\s\"'<>]+)@")
# name=value and "name": "value" pairs in free text (log lines, reprs, JSON);
# masked when the name is a secret's.
BARE_PAIR = re.compile(r"\b(?P<name>[A-Za-z][\w.-]*)=(?P<value>[^&\s\"'<>,;]+)")
QUOTED_PAIR = re.compile(
    r"""(?P<kq>["'])(?P<name>[A-Za-z_][\w.-]*)(?P=kq)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<vq>["'])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)"""
)

# Values too short to scrub by value without mangling ordinary words.
MIN_SECRET_LENGTH = 6
# Masking one secret can make another appear across the mask's edge; a few
# passes settle any realistic text.
SCRUB_PASSES = 3


def name_words(name: object) -> str:
    """``AWSAccessKeyId`` -> ``aws_access_key_id``; ``X-Amz-Signature`` -> ``x_amz_signature``."""
    spaced = CAMEL_BOUNDARY.sub("_", str(name))
    return "_".join(w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w)


def is_secret_name(name: object) -> bool:
    words = name_words(name)
    parts = words.split("_")
    return bool(
        SECRET_WORDS.intersection(parts)
        or parts[-1] in SECRET_LAST_WORDS
        or SECRET_KEY_PAIR.search(words)
        or "accesskey" in words
    )


def redact_url(url: Any) -> Any:
    """The URL with any password, signed query values and known secrets masked."""
    if not isinstance(url, str) or "://" not in url:
        return scrub(url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a parseable URL after all: scrub it as text
        return scrub(url)
    netloc = parts.netloc
    if password:
        netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
    query = urlencode(
        [
            (k, MASK if SECRET_QUERY.match(f"{k}=x") or is_secret_name(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="[]",
    )
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def known_secrets() -> list[str]:
    """Every secret value the current settings hold, longest first."""
    found: list[object] = []
    for name in (
        "SECRET_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "AWS_S3_SECRET_ACCESS_KEY",
        "AWS_S3_ACCESS_KEY_ID",
        "AWS_SECURITY_TOKEN",
        "AWS_CLOUDFRONT_KEY",
    ):
        found.append(getattr(settings, name, None))
    for value in mail_secrets(settings):
        found.extend(secret_values(value) if isinstance(value, dict) else [value])
    found.extend(getattr(settings, "SECRET_KEY_FALLBACKS", None) or [])
    found.extend(secret_values(getattr(settings, "R2_TOOLKIT", None)))
    for db in getattr(settings, "DATABASES", {}).values():
        found.append(db.get("PASSWORD"))
        found.extend(secret_values(db.get("OPTIONS")))
    for config in getattr(settings, "STORAGES", {}).values():
        found.extend(secret_values(config.get("OPTIONS")))
    unique = {s for s in found if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
    return sorted(unique, key=len, reverse=True)


def secret_values(mapping: object) -> list[str]:
    """The string values under secret-looking keys of ``mapping``."""
    if not isinstance(mapping, dict):
        return []
    return [v for k, v in mapping.items() if is_secret_name(k) and isinstance(v, str)]


def forms(secret: str) -> set[str]:
    """The ways ``secret`` can be spelled in output: raw, JSON- and
    repr-escaped, percent-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret, safe=""),
    }


@functools.lru_cache(maxsize=64)
def secret_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    spellings = {form for secret in secrets if secret for form in forms(secret)}
    if not spellings:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True)))


def mask_named(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or not match["value"]:
        return match[0]
    start, end = match.span("value")
    return match[0][: start - match.start()] + MASK + match[0][end - match.start() :]


T = TypeVar("T")


@overload
def scrub(text: str, secrets: Iterable[str] | None = None) -> str: ...
@overload
def scrub(text: T, secrets: Iterable[str] | None = None) -> T: ...
def scrub(text: Any, secrets: Iterable[str] | None = None) -> Any:
    """``text`` with every known secret value, URL password and signature masked."""
    if not isinstance(text, str):
        return text
    pattern = secret_pattern(tuple(known_secrets() if secrets is None else secrets))
    for _ in range(SCRUB_PASSES if pattern is not None else 0):
        assert pattern is not None
        text, count = pattern.subn(MASK, text)
        if not count:
            break
    text = URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    text = SECRET_QUERY.sub(rf"\1={MASK}", text)
    text = QUOTED_PAIR.sub(mask_named, text)
    return BARE_PAIR.sub(mask_named, text)


def redact(value: Any, secrets: Iterable[str] | None = None, *, key: object = None) -> Any:
    """A copy of ``value`` (dicts, lists, strings, scalars) safe to show."""
    if secrets is None:
        secrets = known_secrets()
    if key is not None and is_secret_name(key) and value not in (None, "", False):
        return MASK
    if isinstance(value, dict):
        return {scrub(k, secrets): redact(v, secrets, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(repr(value), secrets)
