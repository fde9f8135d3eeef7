"""Webhooks as Extend signs them (reference §7.4), a sender, and a verifier to reuse.

Signature: hex HMAC-SHA256 over ``v0:{timestamp}:{raw body}`` with the endpoint's
secret, in ``x-extend-request-signature``; the Unix-seconds timestamp is in
``x-extend-request-timestamp``. Verification rejects stale or future timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from extend_assets.emulator import wire

TIMESTAMP_HEADER = "x-extend-request-timestamp"
SIGNATURE_HEADER = "x-extend-request-signature"
logger = logging.getLogger("extend_assets.emulator.webhooks")


class WebhookVerificationError(ValueError):
    pass


def sign(body: bytes, secret: str, timestamp: int) -> str:
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """The event, if the signature is right and fresh; else WebhookVerificationError."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lowered.get(TIMESTAMP_HEADER), lowered.get(SIGNATURE_HEADER)
    if not stamp or not signature:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    try:
        moment = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not Unix seconds") from None
    current = time.time() if now is None else now
    if tolerance and (current - moment > tolerance or moment - current > 60):
        raise WebhookVerificationError("timestamp outside the replay window; event refused")
    if not hmac.compare_digest(sign(body, secret, moment), signature.strip().lower()):
        raise WebhookVerificationError("signature does not match; event refused")
    event: dict[str, Any] = json.loads(body)
    return event


class WebhookSender:
    """Delivers events from a background thread; a few bounded retries per event."""

    def __init__(self, url: str, secret: str, attempts: int = 3) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._loop, name="extend-emulator-webhooks", daemon=True
        )
        self._thread.start()

    def send(self, payload: dict[str, Any], event_type: str) -> None:
        self._queue.put(
            {"eventId": wire.new_id("event_"), "eventType": event_type, "payload": payload}
        )

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        with requests.Session() as session:
            while True:
                event = self._queue.get()
                if event is None:
                    return
                body = json.dumps(event).encode()
                for attempt in range(self.attempts):
                    stamp = int(time.time())
                    headers = {
                        "Content-Type": "application/json",
                        TIMESTAMP_HEADER: str(stamp),
                        SIGNATURE_HEADER: sign(body, self.secret, stamp),
                    }
                    try:
                        answer = session.post(self.url, data=body, headers=headers, timeout=30)
                        if answer.status_code < 300:
                            self.delivered += 1
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(min(2.0, 0.2 * 2**attempt))
                else:
                    self.failed += 1
                    logger.warning(
                        "webhook %s not delivered after %d attempts",
                        event["eventId"],
                        self.attempts,
                    )
