"""Webhooks as Extend signs them (reference §7.4), a retrying sender, and a verifier.

Signature: hex HMAC-SHA256 over ``v0:{timestamp}:{raw body}`` with the endpoint's
secret, in ``x-extend-request-signature``; the Unix-seconds timestamp is in
``x-extend-request-timestamp``. Verification rejects stale or future timestamps.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from extend_assets.emulator import wire
from extend_assets.emulator.config import WebhookDelivery

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
    """The event, if the signature is right and fresh; else WebhookVerificationError.

    The rules of Extend's SDK 1.20 ``webhooks.verify``: the first value of each header
    (case-insensitive names), the timestamp signed as sent, whole seconds, up to
    ``tolerance`` s old and 60 s ahead, the lower-case hex digest compared exactly.
    """
    lowered = {k.lower(): v for k, v in reversed(list(headers.items()))}  # first one wins
    stamp, signature = lowered.get(TIMESTAMP_HEADER), lowered.get(SIGNATURE_HEADER)
    if not stamp or not signature:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    if tolerance > 0:
        try:
            moment = int(stamp)
        except ValueError:
            raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not Unix seconds") from None
        age = int(time.time() if now is None else now) - moment
        if age > tolerance or age < -60:
            raise WebhookVerificationError("timestamp outside the replay window; event refused")
    message = b"v0:" + stamp.encode("utf-8", "replace") + b":" + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        raise WebhookVerificationError("signature does not match; event refused")
    event: dict[str, Any] = json.loads(body)
    return event


def build_event(payload: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The envelope of one event: the one place a webhook body is built."""
    return {"eventId": wire.new_id("event_"), "eventType": event_type, "payload": payload}


@dataclass(order=True)
class _Attempt:
    due: float
    seq: int
    event_id: str = field(compare=False)
    body: bytes = field(compare=False, repr=False)
    failures: int = field(default=0, compare=False)
    duplicate: bool = field(default=False, compare=False)


class WebhookSender:
    """Delivers events from background threads, retrying failures with backoff.

    Each failed attempt is rescheduled (see :class:`~extend_assets.emulator.config.
    WebhookDelivery`) while other events keep flowing, so a receiver that is down for
    a while loses nothing. ``stats()`` and the id lists tell tests what happened.
    """

    def __init__(self, url: str, secret: str, delivery: WebhookDelivery | None = None) -> None:
        self.url = url
        self.secret = secret
        self.delivery = delivery or WebhookDelivery()
        self.event_ids: list[str] = []  # every event created, in order
        self.delivered_ids: list[str] = []  # first successful delivery of each
        self.dropped_ids: list[str] = []  # never sent (drop_rate)
        self.undelivered_ids: list[str] = []  # gave up after max_attempts
        self.counts = {"attempts": 0, "failed_attempts": 0, "duplicates_sent": 0}
        seed = self.delivery.seed  # one generator per fault: each sequence is reproducible
        self._drop_rng, self._duplicate_rng, self._order_rng = (
            random.Random(f"{seed}:{kind}") for kind in ("drop", "duplicate", "order")
        )
        self._cond = threading.Condition()
        self._heap: list[_Attempt] = []
        self._held: list[_Attempt] = []
        self._held_since = 0.0
        self._seq = 0
        self._in_flight = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"extend-emulator-webhooks-{n}", daemon=True)
            for n in range(self.delivery.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    # kept for callers of the old attribute names
    @property
    def delivered(self) -> int:
        return len(self.delivered_ids)

    @property
    def failed(self) -> int:
        return len(self.undelivered_ids)

    def send(self, payload: dict[str, Any], event_type: str) -> None:
        event = build_event(payload, event_type)
        body = json.dumps(event).encode()
        with self._cond:
            self.event_ids.append(event["eventId"])
            if self.delivery.drop_rate and self._drop_rng.random() < self.delivery.drop_rate:
                self.dropped_ids.append(event["eventId"])
                return
            attempt = self._attempt(event["eventId"], body, time.monotonic())
            if self.delivery.reorder_window > 1:
                if not self._held:
                    self._held_since = time.monotonic()
                self._held.append(attempt)
                if len(self._held) >= self.delivery.reorder_window:
                    self._release_held()
            else:
                heapq.heappush(self._heap, attempt)
            self._cond.notify_all()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                **self.counts,
                "events": len(self.event_ids),
                "delivered": len(self.delivered_ids),
                "dropped": len(self.dropped_ids),
                "undelivered": len(self.undelivered_ids),
                "pending": len(self._heap) + len(self._held) + self._in_flight,
            }

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait (bounded) until nothing is queued, held or in flight; True if so."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._held or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.05))
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    # -- the delivery thread ------------------------------------------------------------

    def _attempt(self, event_id: str, body: bytes, due: float, duplicate: bool = False) -> _Attempt:
        self._seq += 1
        return _Attempt(due, self._seq, event_id, body, duplicate=duplicate)

    def _release_held(self) -> None:
        self._order_rng.shuffle(self._held)
        now = time.monotonic()
        for attempt in self._held:
            self._seq += 1
            attempt.due, attempt.seq = now, self._seq
            heapq.heappush(self._heap, attempt)
        self._held = []

    def _next(self) -> _Attempt | None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                hold_ends = self._held_since + self.delivery.reorder_hold
                if self._held and now >= hold_ends:
                    self._release_held()
                if self._heap and self._heap[0].due <= now:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)
                waits = [self._heap[0].due - now] if self._heap else []
                if self._held:
                    waits.append(hold_ends - now)
                self._cond.wait(timeout=min([*waits, 1.0]))
            return None

    def _loop(self) -> None:
        with requests.Session() as session:
            while (attempt := self._next()) is not None:
                ok = self._post(session, attempt.body)
                with self._cond:
                    self._in_flight -= 1
                    self.counts["attempts"] += 1
                    self._settle(attempt, ok)
                    self._cond.notify_all()

    def _post(self, session: requests.Session, body: bytes) -> bool:
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(body, self.secret, stamp),
        }
        try:
            answer = session.post(
                self.url, data=body, headers=headers, timeout=self.delivery.timeout
            )
        except requests.RequestException:
            return False
        return 200 <= answer.status_code < 300

    def _settle(self, attempt: _Attempt, ok: bool) -> None:
        if ok:
            if attempt.duplicate:
                self.counts["duplicates_sent"] += 1
                return
            self.delivered_ids.append(attempt.event_id)
            rate = self.delivery.duplicate_rate
            if rate and self._duplicate_rng.random() < rate:
                heapq.heappush(
                    self._heap,
                    self._attempt(attempt.event_id, attempt.body, time.monotonic(), True),
                )
            return
        self.counts["failed_attempts"] += 1
        attempt.failures += 1
        if attempt.failures < self.delivery.max_attempts:
            self._seq += 1
            attempt.due = time.monotonic() + self.delivery.delay(attempt.failures)
            attempt.seq = self._seq
            heapq.heappush(self._heap, attempt)
            return
        if not attempt.duplicate:
            self.undelivered_ids.append(attempt.event_id)
        logger.warning(
            "webhook %s not delivered after %d attempts", attempt.event_id, attempt.failures
        )
