"""Keep credentials out of text: one list of credential query parameters, two uses.

- :func:`redact_credentials` replaces the value of every credential query parameter,
  wherever it sits in a string (a URL alone, a URL inside a message, percent-encoded
  inside another URL), and keeps the rest: the webhook landing zone stores payloads so.
- :func:`redact_text` is stricter, for the client's logs and exceptions: given secrets
  (the API key), bearer tokens, credential parameters and whole URL query strings go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"

CREDENTIAL_PARAMS = (
    "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "AWSAccessKeyId",
    "Signature", "Policy", "Key-Pair-Id", "X-Goog-Signature", "X-Goog-Credential",
    "GoogleAccessId", "sig", "token", "access_token", "id_token", "refresh_token",
    "security_token", "api_key", "apikey", "secret", "password",
)  # fmt: skip
"""Query parameters that carry a credential in presigned / signed URLs: S3 SigV4 and V2,
CloudFront, GCS, Azure SAS, and generic tokens. Matched case-insensitively."""

_CREDENTIAL_PARAM = re.compile(
    r"(?:(?<![\w.%-])|(?<=%3F)|(?<=%26))("
    + "|".join(re.escape(n) for n in CREDENTIAL_PARAMS)
    + r")(=|%3D)"
    r"((?:(?!%26)[^&\s\"'<>#;,)])*)",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE)


def redact_credentials(text: str) -> str:
    """``text`` with the value of every credential query parameter replaced."""
    if "=" not in text and "%3d" not in text.lower():
        return text
    return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


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
    """``text`` with secrets, bearer tokens, credential parameters and URL query strings
    removed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = redact_credentials(text)
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
