"""The receiver's exceptions: one root, a subclass per stage.

::

    WebhookError
     ├── SignatureError       refused: missing, malformed, stale or wrong signature (401)
     ├── EventError           refused: not JSON, or not an Extend event envelope (400)
     ├── PayloadFetchError    a signed_data_url payload could not be fetched (502; Extend retries)
     └── LandingError         the landing zone could not store or read an event (503)

Messages never contain a secret, a signature or a signed/presigned URL.
"""

from __future__ import annotations


class WebhookError(Exception):
    """Root of every error raised by :mod:`extend_assets.webhooks`."""


class SignatureError(WebhookError):
    """The request is not proven to come from Extend; ``reason`` is a short counter key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class EventError(WebhookError):
    """The body is not a usable Extend event (``reason``: malformed_json, bad_envelope)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PayloadFetchError(WebhookError):
    """Fetching a ``signed_data_url`` payload failed (never shows the URL's query)."""


class LandingError(WebhookError):
    """The landing zone refused a write or a read."""
