"""Store failures in the app (in-process): 503 / 500 so Extend retries, nothing claimed."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from extend_assets.webhooks.app import ReceiverConfig, create_app
from extend_assets.webhooks.errors import LandingError
from extend_assets.webhooks.events import WebhookEvent
from extend_assets.webhooks.landing import LandResult
from extend_assets.webhooks.signature import Secrets, signed_headers
from extend_assets.webhooks.stores import DirectoryLandingZone
from extend_assets_tests.webhooks.conftest import SECRET, event_body


def _call(
    app: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One request straight into the ASGI app (no server, no client library)."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
        "scheme": "http", "server": ("test", 80), "client": ("127.0.0.1", 1), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(content)


class _Broken(DirectoryLandingZone):
    def __init__(self, root: Path, error: Exception) -> None:
        super().__init__(root)
        self.error = error

    def land(
        self, event: WebhookEvent, *, delivered_as: str = "json", now: datetime | None = None
    ) -> LandResult:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [(LandingError("disk full"), 503, "landing"), (RuntimeError(SECRET), 500, "internal")],
)
def test_a_failing_store_is_not_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, error: Exception, status: int, reason: str
) -> None:
    zone = _Broken(tmp_path, error)
    app = create_app(ReceiverConfig(zone, Secrets([SECRET]), "2026-02-09"))
    body = event_body("event_f1")
    answer, _ = _call(app, "POST", "/", body, signed_headers(body, SECRET))
    _, health = _call(app, "GET", "/healthz")
    assert answer == status
    assert health["counters"]["failed"] == {reason: 1} and health["counters"]["accepted"] == 0
    assert SECRET not in caplog.text  # the exception's text is not logged


def test_the_config_repr_hides_the_secrets(tmp_path: Path) -> None:
    config = ReceiverConfig(DirectoryLandingZone(tmp_path), Secrets([SECRET]), "2025-04-21")
    assert SECRET not in repr(config)
    with pytest.raises(ValueError, match="2026-02-09"):
        ReceiverConfig(DirectoryLandingZone(tmp_path), Secrets([SECRET]), "2024-12-23")


class _Slow(DirectoryLandingZone):
    """Lands each event at a position ``lag`` seconds in the past: a write that took that long."""

    def __init__(self, root: Path, lag: float) -> None:
        super().__init__(root)
        self.lag = lag

    def land(
        self, event: WebhookEvent, *, delivered_as: str = "json", now: datetime | None = None
    ) -> LandResult:
        past = datetime.now(UTC) - timedelta(seconds=self.lag)
        return super().land(event, delivered_as=delivered_as, now=past)


@pytest.mark.parametrize(("lag", "slow"), [(45.0, 1), (0.0, 0)])
def test_a_slow_landing_is_counted_and_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, lag: float, slow: int
) -> None:
    app = create_app(ReceiverConfig(_Slow(tmp_path, lag), Secrets([SECRET]), "2026-02-09"))
    body = event_body("event_slow")
    with caplog.at_level("WARNING", logger="extend_assets.webhooks"):
        answer, _ = _call(app, "POST", "/", body, signed_headers(body, SECRET))
        again, _ = _call(app, "POST", "/", body, signed_headers(body, SECRET))  # a duplicate
    _, health = _call(app, "GET", "/healthz")
    assert (answer, again) == (200, 200)
    assert health["counters"]["accepted"] == 1 and health["counters"]["slow_landings"] == slow
    warned = [r.getMessage() for r in caplog.records if "to land" in r.getMessage()]
    assert len(warned) == slow  # the landed event only, not its duplicate
    if slow:
        assert "event_slow took 45 s to land" in warned[0]
        assert "webhook_settle_seconds" in warned[0] and SECRET not in caplog.text
