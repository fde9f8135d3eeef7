"""Keep credentials out of text: API keys and the query strings of presigned URLs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE)
_SIGNATURE_PARAMS = re.compile(
    r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+", re.IGNORECASE
)
REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """The URL without its query string and fragment (where presigned URLs keep secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.query and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, REDACTED, ""))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secrets, bearer tokens, URL query strings and signatures removed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SIGNATURE_PARAMS.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
