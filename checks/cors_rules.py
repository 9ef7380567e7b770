"""S3 CORS semantics as pure functions, no I/O (property-tested).

What a browser may do from an origin under a bucket's CORS rules, the
smallest change to those rules that lets the site's origins GET, HEAD and
PUT, and how a browser reads a live preflight answer.

S3 semantics: a request matches the *first* rule whose AllowedOrigins match
the Origin (``*`` alone or one ``*`` inside, e.g. ``https://*.example.com``),
whose AllowedMethods contain the method and whose AllowedHeaders match every
requested header (case-insensitively, ``*`` wildcards). Whether something is
allowed therefore does not depend on rule order; which rule's ExposeHeaders
apply does.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

NEEDED_METHODS = ("GET", "HEAD", "PUT")
UPLOAD_HEADER = "content-type"
ETAG = "ETag"
DEFAULT_MAX_AGE = 3000

SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
NETLOC = re.compile(r"[a-z0-9.\-\[\]:]+")
# Stands in for a rule's "*" while the rest of the origin is parsed.
WILDCARD_LABEL = "wildcard0"

# One CORS rule as S3 spells it (AllowedOrigins, AllowedMethods, ...): read from
# the server (boto3's GetBucketCors, no stubs here) or the settings.
Rule = dict[str, Any]


def as_list(rule: object, key: str) -> list[str]:
    """A rule field as a list of strings, however the server spelled it."""
    value = rule.get(key) if isinstance(rule, dict) else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


# --- origins ---------------------------------------------------------------
def origin_problem(origin: object, *, pattern: bool = False, r2: bool = False) -> str | None:
    """Why ``origin`` is not what a browser sends as its Origin header, in
    words (``None`` when it is fine). ``pattern``: a rule's AllowedOrigin,
    where ``*`` alone or one ``*`` wildcard inside is allowed (but not, on R2
    (``r2``), a wildcard port)."""
    if not isinstance(origin, str) or not origin.strip():
        return "is empty"
    if pattern and origin == "*":
        return None
    if origin != origin.strip() or any(ch.isspace() for ch in origin):
        return "contains spaces"
    if wildcard_port(origin) and (r2 or not pattern):
        return (
            "has a wildcard port (a browser sends one concrete port, and R2 rejects a rule "
            "set containing one with MalformedXML); list each port, e.g. http://localhost:3000"
        )
    if pattern and origin.count("*") > 1:
        return "has more than one '*' wildcard (S3 allows one per origin)"
    if "*" in origin and not pattern:
        return "contains '*' (a browser sends a concrete origin such as https://app.example.com)"
    text = origin.replace("*", WILDCARD_LABEL)
    if not text.isascii():
        return "has non-ASCII characters (browsers send the punycode form, xn--...)"
    if "://" not in text:
        return "has no scheme (write it as https://host)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "has an invalid host or port"
    if not SCHEME.fullmatch(parts.scheme.lower()) or not parts.hostname:
        return "is not scheme://host[:port]"
    if "@" in parts.netloc:
        return "contains a user name or password"
    if parts.query or parts.fragment or "?" in text or "#" in text:
        return "has a query or fragment (an origin is scheme://host[:port] only)"
    if parts.path == "/":
        return "has a trailing slash (browsers send origins without one)"
    if parts.path:
        return f"has a path ({parts.path}); an origin is scheme://host[:port] only"
    if text != text.lower():
        return "has upper-case letters (browsers send origins in lower case)"
    if not NETLOC.fullmatch(parts.netloc):
        return "has characters that cannot appear in a host name"
    return None


WILDCARD_PORT = re.compile(r"^[^/]*//[^/]*:\*(/|$)")


def wildcard_port(origin: object) -> bool:
    """Whether ``origin`` has ``*`` for its port (``http://localhost:*``)."""
    return isinstance(origin, str) and WILDCARD_PORT.match(origin.strip()) is not None


def normalize_origin(origin: object, *, pattern: bool = False) -> str | None:
    """The origin a browser would send for ``origin`` (path, trailing slash,
    user info and case dropped), or ``None`` when it cannot be repaired."""
    if not isinstance(origin, str):  # origin_problem: "is empty"
        return None
    if origin_problem(origin, pattern=pattern) is None:
        return origin
    if "://" not in origin:
        return None
    text = origin.strip().replace("*", WILDCARD_LABEL)
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    candidate = f"{parts.scheme.lower()}://{host}".replace(WILDCARD_LABEL, "*")
    return candidate if origin_problem(candidate, pattern=pattern) is None else None


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """S3's matching of AllowedOrigin / AllowedHeader: ``*`` matches anything."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, re.DOTALL) is not None


# --- evaluation ------------------------------------------------------------
def origin_allowed(rule: object, origin: str) -> bool:
    return any(wildcard_match(p, origin) for p in as_list(rule, "AllowedOrigins"))


def rule_allows(rule: object, origin: str, method: str, headers: Iterable[str] = ()) -> bool:
    allowed_headers = as_list(rule, "AllowedHeaders")
    return (
        origin_allowed(rule, origin)
        and method in {m.upper() for m in as_list(rule, "AllowedMethods")}
        and all(
            any(wildcard_match(p, h, ignore_case=True) for p in allowed_headers) for h in headers
        )
    )


def first_match(
    rules: Iterable[Rule], origin: str, method: str, headers: Iterable[str] = ()
) -> Rule | None:
    """The rule S3 applies to this request, or ``None`` (refused)."""
    return next((r for r in rules if rule_allows(r, origin, method, headers)), None)


def exposes_etag(rule: Rule | None) -> bool:
    return rule is not None and any(h.lower() == "etag" for h in as_list(rule, "ExposeHeaders"))


def evaluate(rules: Iterable[object] | None, origin: object) -> dict[str, object]:
    """What a browser on ``origin`` may do under ``rules``, and the problems
    in words: {"origin", "get", "head", "put", "content_type",
    "etag_exposed", "problems"}."""
    kept: list[Rule] = [r for r in rules or () if isinstance(r, dict)]
    problems: list[str] = []
    problem = origin_problem(origin)
    if problem:
        problems.append(f"the origin {origin!r} {problem}")
    browser_origin = normalize_origin(origin)
    result: dict[str, object] = {
        "origin": origin,
        "get": False,
        "head": False,
        "put": False,
        "content_type": False,
        "etag_exposed": False,
        "problems": problems,
    }
    if browser_origin is None:
        return result
    put_rule = first_match(kept, browser_origin, "PUT")
    result.update(
        get=first_match(kept, browser_origin, "GET") is not None,
        head=first_match(kept, browser_origin, "HEAD") is not None,
        put=put_rule is not None,
        content_type=first_match(kept, browser_origin, "PUT", (UPLOAD_HEADER,)) is not None,
        # The actual request (not the preflight) takes its Expose-Headers from
        # the first rule matching origin and method: the upload's, else GET's.
        etag_exposed=exposes_etag(put_rule or first_match(kept, browser_origin, "GET")),
    )
    for method in ("GET", "HEAD", "PUT"):
        if not result[method.lower()]:
            problems.append(f"{method} from {browser_origin} is not allowed")
    if result["put"] and not result["content_type"]:
        problems.append(f"the Content-Type header on PUT from {browser_origin} is not allowed")
    if not result["etag_exposed"]:
        problems.append(f"ETag is not exposed to {browser_origin}")
    return result


# --- correction ------------------------------------------------------------
def new_rule(origins: Iterable[str]) -> Rule:
    """The rule the toolkit recommends: browsers GET and PUT, ETag visible."""
    return {
        "AllowedOrigins": list(origins),
        "AllowedMethods": list(NEEDED_METHODS),
        "AllowedHeaders": [UPLOAD_HEADER],
        "ExposeHeaders": [ETAG],
        "MaxAgeSeconds": DEFAULT_MAX_AGE,
    }


def repair_origins(rule: Rule, r2: bool = False) -> Rule:
    """``rule`` with its fixable AllowedOrigins fixed. Hopeless ones are kept
    as they are: S3 may still match them (``*.example.com`` has no scheme
    but matches), and a correction must never take an allowance away. On R2
    (``r2``) wildcard ports go: R2 refuses the whole rule set over one."""
    fixed: list[str] = []
    for origin in as_list(rule, "AllowedOrigins"):
        if r2 and wildcard_port(origin):
            continue
        repaired = normalize_origin(origin, pattern=True) or origin
        if repaired not in fixed:
            fixed.append(repaired)
    return {**rule, "AllowedOrigins": fixed}


def cover(rule: Rule, origins: Iterable[str]) -> Rule:
    """``rule`` extended so that ``origins`` may GET, HEAD and PUT with a
    Content-Type and read the ETag; nothing it already allowed is removed."""
    rule = dict(rule)
    rule["AllowedOrigins"] = as_list(rule, "AllowedOrigins") + [
        o for o in origins if not origin_allowed(rule, o)
    ]
    methods = as_list(rule, "AllowedMethods")
    rule["AllowedMethods"] = methods + [m for m in NEEDED_METHODS if m not in methods]
    headers = as_list(rule, "AllowedHeaders")
    if not any(wildcard_match(p, UPLOAD_HEADER, ignore_case=True) for p in headers):
        headers.append(UPLOAD_HEADER)
    rule["AllowedHeaders"] = headers
    if not exposes_etag(rule):
        rule["ExposeHeaders"] = as_list(rule, "ExposeHeaders") + [ETAG]
    rule.setdefault("MaxAgeSeconds", DEFAULT_MAX_AGE)
    return rule


def recommended_rules(
    rules: Iterable[object] | None, origins: Iterable[object] | None, r2: bool = False
) -> list[Rule]:
    """The corrected rule set: existing rules kept (their fixable malformed
    origins repaired), the first rule that serves any of ``origins`` extended to
    cover them all, or a new rule appended when none does. No earlier rule
    serves those origins, so the extended rule is the one S3 applies to them.
    With no origins configured, the rule is for ``*``."""
    targets: list[str] = []
    for origin in origins or ():
        repaired = normalize_origin(origin)
        if repaired is not None and repaired not in targets:
            targets.append(repaired)
    targets = targets or ["*"]
    fixed = [repair_origins(r, r2) for r in rules or () if isinstance(r, dict)]
    fixed = [r for r in fixed if r["AllowedOrigins"]]
    for index, rule in enumerate(fixed):
        if any(origin_allowed(rule, t) for t in targets):
            fixed[index] = cover(rule, targets)
            return fixed
    return fixed + [new_rule(targets)]


# --- a live preflight, read as a browser reads it --------------------------
def header_tokens(value: str | None) -> list[str]:
    return [token.strip() for token in (value or "").split(",") if token.strip()]


def preflight_verdict(
    status: int,
    headers: Mapping[str, str],
    origin: str,
    method: str = "PUT",
    request_headers: Sequence[str] = (UPLOAD_HEADER,),
) -> tuple[bool, str]:
    """(allowed, reason): whether a browser would go on with the request
    after this preflight answer (Fetch standard, CORS-preflight fetch)."""
    headers = {k.lower(): v for k, v in headers.items()}
    if not 200 <= status < 300:
        return False, f"the server answered the preflight with HTTP {status}"
    allow_origin = headers.get("access-control-allow-origin")
    if allow_origin is None:
        return False, "the answer has no Access-Control-Allow-Origin header"
    if allow_origin.strip() not in ("*", origin):
        return False, f"Access-Control-Allow-Origin is {allow_origin!r}, not {origin!r}"
    methods = header_tokens(headers.get("access-control-allow-methods"))
    if method not in methods and "*" not in methods:
        listed = ", ".join(methods) or "nothing"
        return False, f"Access-Control-Allow-Methods allows {listed}, not {method}"
    allowed = [h.lower() for h in header_tokens(headers.get("access-control-allow-headers"))]
    for header in request_headers:
        if header.lower() not in allowed and "*" not in allowed:
            listed = ", ".join(allowed) or "no header"
            return False, f"Access-Control-Allow-Headers allows {listed}, not {header}"
    return True, f"the server allowed {method} with {', '.join(request_headers) or 'no headers'}"
