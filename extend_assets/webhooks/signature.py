"""Verify Extend's webhook signature exactly as Extend's SDK 1.20 does (reference §7.4).

``x-extend-request-signature`` = lower-case hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``),
with the Unix-seconds timestamp in ``x-extend-request-timestamp``. The rules are those of
``extend_ai/wrapper/webhooks.py`` in extend-ai 1.20.0 (a differential test holds us to them):

- each header's *first* value (header names case-insensitive);
- the timestamp is read as Python's ``int()`` reads it, but signed *as the text sent*
  (``0``-padded text is signed padded);
- whole seconds: ``age = int(now) - int(timestamp)``; refused when ``age > max_age``
  (300 s by default, so exactly 300 s old passes) or ``age < -60`` (one minute of skew);
  ``max_age = 0`` skips the window (the SDKs' ``max_age_seconds=0``; only tests should);
- the body must be UTF-8 (the SDK decodes it before signing);
- the signature must equal the lower-case hex digest, compared in constant time;
  upper-case hex, spaces or any other byte are refused.

Several secrets may be accepted at once so a secret can be rotated without refusing
events: a delivery passes when it passes the SDK's check for one of them. Every
malformed input is a :class:`SignatureError` (a 401), never another exception.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from extend_assets.webhooks.errors import SignatureError

TIMESTAMP_HEADER = "x-extend-request-timestamp"
SIGNATURE_HEADER = "x-extend-request-signature"
DEFAULT_TOLERANCE_SECONDS = 300
FUTURE_SKEW_SECONDS = 60
"""How far ahead a timestamp may be (fixed in Extend's SDKs)."""

HeaderValue = str | bytes | Sequence[str | bytes]


class Secrets:
    """The signing secrets currently accepted (oldest and newest during a rotation).

    Its repr and str never show the values.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[str]) -> None:
        cleaned = tuple(v.strip() for v in values if v and v.strip())
        if not cleaned:
            raise ValueError("at least one non-empty webhook signing secret is needed")
        self._values = cleaned

    @classmethod
    def parse(cls, text: str) -> Secrets:
        """Secrets from one environment value: separated by commas or whitespace."""
        return cls(re.split(r"[\s,]+", text))

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def values(self) -> Sequence[str]:
        return self._values

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._values)} redacted>)"

    __str__ = __repr__


def sign(body: bytes, secret: str, timestamp: int | str) -> str:
    """The signature Extend sends for ``body`` at ``timestamp`` (lower-case hex).

    ``timestamp`` is signed as its text: pass the header's text to check a delivery.
    """
    message = b"v0:" + str(timestamp).encode("utf-8") + b":" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Both headers for ``body``, as Extend sends them (for tests and the emulator)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(body, secret, stamp)}


def first_header(headers: Mapping[str, HeaderValue], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), as the SDK reads it.

    A list stands for a header sent several times; bytes are read as Latin-1, as
    ASGI servers hand header values to Starlette.
    """
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() != wanted:
            continue
        if isinstance(value, str | bytes):
            return _text(value)
        return _text(value[0]) if value else None
    return None


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """ASGI raw headers as ``{lower-case name: [values in order sent]}``."""
    grouped: dict[str, list[str]] = {}
    for name, value in raw:
        grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return grouped


def verify(
    body: bytes,
    headers: Mapping[str, HeaderValue],
    secrets: Secrets | Sequence[str] | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int | None:
    """The request's timestamp if it passes the SDK's check for one secret; else SignatureError.

    ``reason`` on the error is one of ``missing_signature``, ``malformed_signature``,
    ``stale_timestamp``, ``future_timestamp``, ``bad_signature``. Messages never
    show the signature or a secret. (None: the window is off and the timestamp unread.)
    """
    verifier = start_verification(headers, secrets, tolerance=tolerance, now=now)
    verifier.update(body)
    verifier.finish()
    return verifier.timestamp


def start_verification(
    headers: Mapping[str, HeaderValue],
    secrets: Secrets | Sequence[str] | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> BodyVerifier:
    """Check the headers (presence, window, shape); the body is then fed chunk by chunk.

    The receiver refuses bad headers before reading a byte of the body, and never
    needs the body whole in memory to check it.
    """
    accepted = _as_secrets(secrets)
    stamp = first_header(headers, TIMESTAMP_HEADER)
    signature = first_header(headers, SIGNATURE_HEADER)
    if not stamp or not signature:
        raise SignatureError(
            "missing_signature", f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
        )
    max_age = int(tolerance)
    moment = None
    if max_age > 0:  # as the SDK: the timestamp is only read when the window is on
        moment = _parse_timestamp(stamp)
        age = int(time.time() if now is None else now) - moment
        if age > max_age:
            raise SignatureError(
                "stale_timestamp", f"{TIMESTAMP_HEADER} is {age} s old (limit {max_age} s)"
            )
        if age < -FUTURE_SKEW_SECONDS:
            raise SignatureError(
                "future_timestamp",
                f"{TIMESTAMP_HEADER} is {-age} s ahead (limit {FUTURE_SKEW_SECONDS} s)",
            )
    try:
        given = signature.encode("ascii")  # the SDK's str compare_digest refuses the rest
        prefix = b"v0:" + stamp.encode("utf-8") + b":"
    except UnicodeError:
        raise SignatureError(
            "malformed_signature", "a signature header is not ASCII / not encodable"
        ) from None
    return BodyVerifier(prefix, given, accepted, moment)


class BodyVerifier:
    """HMACs of ``v0:{timestamp}:`` + the body for every secret, fed as the body streams."""

    def __init__(
        self, prefix: bytes, given: bytes, secrets: Secrets, timestamp: int | None
    ) -> None:
        self.timestamp = timestamp
        self._given = given
        self._macs = [hmac.new(s.encode("utf-8"), prefix, hashlib.sha256) for s in secrets]
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._utf8_ok = True

    def update(self, chunk: bytes) -> None:
        for mac in self._macs:
            mac.update(chunk)
        if self._utf8_ok:
            try:
                self._utf8.decode(chunk)
            except UnicodeDecodeError:
                self._utf8_ok = False

    def finish(self) -> None:
        """SignatureError unless the body is UTF-8 and one secret's signature matches."""
        if self._utf8_ok:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self._utf8_ok = False
        if not self._utf8_ok:  # the SDK decodes the body before signing it
            raise SignatureError("malformed_signature", "the body is not UTF-8")
        matched = False
        for mac in self._macs:  # check them all: timing does not tell which matched
            matched |= hmac.compare_digest(mac.hexdigest().encode("ascii"), self._given)
        if not matched:
            raise SignatureError("bad_signature", "signature does not match any accepted secret")


def _parse_timestamp(stamp: str) -> int:
    """``int(stamp)`` as the SDK computes it (same interpreter, same rules, same digit
    limit); anything it refuses is malformed. Header sizes are bounded by the server."""
    try:
        return int(stamp)
    except ValueError:
        raise SignatureError(
            "malformed_signature", f"{TIMESTAMP_HEADER} is not Unix seconds"
        ) from None


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _as_secrets(secrets: Secrets | Sequence[str] | str) -> Secrets:
    if isinstance(secrets, Secrets):
        return secrets
    if isinstance(secrets, str):
        return Secrets([secrets])
    return Secrets(secrets)
