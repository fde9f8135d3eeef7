"""The emulator's webhook sender: backoff per event, giving up, and seeded faults."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from extend_assets.emulator.config import EmulatorConfigError, WebhookDelivery
from extend_assets.emulator.webhooks import WebhookSender, verify_webhook

FAST = WebhookDelivery(initial_delay=0.01, multiplier=2.0, max_delay=0.05, timeout=5.0)


class _Receiver(BaseHTTPRequestHandler):
    """A quiet loopback receiver: reads and verifies each event, answers with no body."""

    def _event(self) -> dict[str, Any]:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        return verify_webhook(body, dict(self.headers), "wss_s")  # every attempt is signed

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def serving(handler: type[_Receiver]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


class _Flaky(_Receiver):
    """Answers 503 to the first ``failures`` attempts of each event, then 200."""

    failures = 2
    attempts: Counter[str] = Counter()
    accepted: list[str] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        event = self._event()
        with self.lock:
            self.attempts[event["eventId"]] += 1
            ok = self.attempts[event["eventId"]] > self.failures
            if ok:
                self.accepted.append(event["eventId"])
        self._answer(200 if ok else 503)


@pytest.fixture
def flaky() -> Iterator[str]:
    _Flaky.attempts, _Flaky.accepted = Counter(), []
    with serving(_Flaky) as url:
        yield url


def test_the_backoff_doubles_up_to_its_cap() -> None:
    delivery = WebhookDelivery(initial_delay=1, multiplier=2, max_delay=5)
    assert [delivery.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    with pytest.raises(EmulatorConfigError, match="max_attempts"):
        WebhookDelivery(max_attempts=0)
    with pytest.raises(EmulatorConfigError, match="drop_rate"):
        WebhookDelivery(drop_rate=2)


def test_failed_attempts_are_retried_until_delivered(flaky: str) -> None:
    _Flaky.failures = 2
    sender = WebhookSender(flaky, "wss_s", replace(FAST, max_attempts=5))
    try:
        for n in range(6):
            sender.send({"object": "workflow_run", "id": f"run_{n}"}, "workflow_run.completed")
        assert sender.wait_idle(30)
        stats = sender.stats()
    finally:
        sender.close()
    assert stats["delivered"] == 6 and stats["failed_attempts"] == 12 and stats["undelivered"] == 0
    assert sorted(_Flaky.accepted) == sorted(sender.event_ids)
    assert set(_Flaky.attempts.values()) == {3}


def test_it_gives_up_after_max_attempts(flaky: str, caplog: pytest.LogCaptureFixture) -> None:
    _Flaky.failures = 100
    sender = WebhookSender(flaky, "wss_s", replace(FAST, max_attempts=3))
    try:
        sender.send({"id": "run_1"}, "workflow_run.failed")
        assert sender.wait_idle(30)
    finally:
        sender.close()
    assert sender.undelivered_ids == sender.event_ids and sender.delivered == 0
    assert sum(_Flaky.attempts.values()) == 3
    assert "not delivered after 3 attempts" in caplog.text and "wss_s" not in caplog.text


def test_drops_are_seeded(flaky: str) -> None:
    _Flaky.failures = 0
    dropped = []
    for _ in range(2):
        sender = WebhookSender(flaky, "wss_s", replace(FAST, drop_rate=0.5, seed=4))
        try:
            for n in range(20):
                sender.send({"id": f"run_{n}"}, "workflow_run.completed")
            assert sender.wait_idle(30)
        finally:
            sender.close()
        dropped.append([sender.event_ids.index(e) for e in sender.dropped_ids])
    assert dropped[0] == dropped[1] and 0 < len(dropped[0]) < 20
    body = json.dumps(sender.stats())
    assert "wss_s" not in body


class _Slow(_Receiver):
    """Holds each delivery a moment and records how many were in flight at once."""

    in_flight = 0
    most_in_flight = 0
    accepted: list[str] = []
    lock = threading.Lock()
    release = threading.Event()

    def do_POST(self) -> None:
        event = self._event()
        with self.lock:
            _Slow.in_flight += 1
            _Slow.most_in_flight = max(_Slow.most_in_flight, _Slow.in_flight)
        self.release.wait(timeout=0.2)  # overlap the deliveries, bounded
        with self.lock:
            _Slow.in_flight -= 1
            self.accepted.append(event["eventId"])
        self._answer(200)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_bounds_the_deliveries_in_flight(concurrency: int) -> None:
    _Slow.in_flight, _Slow.most_in_flight, _Slow.accepted = 0, 0, []
    with serving(_Slow) as url:
        sender = WebhookSender(url, "wss_s", replace(FAST, concurrency=concurrency))
        try:
            for n in range(12):
                sender.send({"id": f"run_{n}"}, "workflow_run.completed")
            assert sender.wait_idle(30)
        finally:
            sender.close()
    assert _Slow.most_in_flight == concurrency
    assert sorted(_Slow.accepted) == sorted(sender.event_ids) and sender.delivered == 12
    with pytest.raises(EmulatorConfigError, match="concurrency"):
        WebhookDelivery(concurrency=0)
