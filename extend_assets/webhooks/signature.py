"""Verify Extend's webhook signature (reference 2025-04-21 §7.4, unchanged in 2026-02-09).

``x-extend-request-signature`` = lowercase hex HMAC-SHA256(secret, ``v0:{timestamp}:{raw body}``),
with the Unix-seconds timestamp in ``x-extend-request-timestamp``. Several secrets may be
accepted at once so a secret can be rotated without refusing events. Timestamps more than
``tolerance`` seconds old or ahead are refused (replay window; 300 s both ways by default,
where Extend's SDKs allow only 60 s ahead).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from extend_assets.webhooks.errors import SignatureError

TIMESTAMP_HEADER = "x-extend-request-timestamp"
SIGNATURE_HEADER = "x-extend-request-signature"
DEFAULT_TOLERANCE_SECONDS = 300
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


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


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature Extend sends for ``body`` at ``timestamp`` (lowercase hex)."""
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Both headers for ``body``, as Extend sends them (for tests and the emulator)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(body, secret, stamp)}


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Secrets | Sequence[str] | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """The request's timestamp if the signature is right and fresh; else SignatureError.

    ``headers`` is looked up case-insensitively. ``reason`` on the error is one of
    ``missing_signature``, ``malformed_signature``, ``stale_timestamp``,
    ``future_timestamp``, ``bad_signature``. ``tolerance=0`` disables the window
    (as the SDKs' ``max_age_seconds=0``), which only tests should do.
    """
    accepted = _as_secrets(secrets)
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lowered.get(TIMESTAMP_HEADER), lowered.get(SIGNATURE_HEADER)
    if not stamp or not signature:
        raise SignatureError(
            "missing_signature", f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
        )
    stamp, signature = stamp.strip(), signature.strip()
    if not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("malformed_signature", f"{TIMESTAMP_HEADER} is not Unix seconds")
    if not _HEX_SHA256.match(signature):
        raise SignatureError("malformed_signature", f"{SIGNATURE_HEADER} is not hex SHA-256")
    moment = int(stamp)
    current = time.time() if now is None else now
    if tolerance and current - moment > tolerance:
        raise SignatureError(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is {int(current - moment)} s old (limit {int(tolerance)} s)",
        )
    if tolerance and moment - current > tolerance:
        raise SignatureError(
            "future_timestamp",
            f"{TIMESTAMP_HEADER} is {int(moment - current)} s ahead (limit {int(tolerance)} s)",
        )
    given = signature.lower().encode()
    matched = False
    for secret in accepted.values():  # check them all: timing does not tell which matched
        matched |= hmac.compare_digest(sign(body, secret, moment).encode(), given)
    if not matched:
        raise SignatureError("bad_signature", "signature does not match any accepted secret")
    return moment


def _as_secrets(secrets: Secrets | Sequence[str] | str) -> Secrets:
    if isinstance(secrets, Secrets):
        return secrets
    if isinstance(secrets, str):
        return Secrets([secrets])
    return Secrets(secrets)
