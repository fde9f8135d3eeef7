"""Webhook payloads in the version the endpoint is pinned to: 2026 shapes and the
``workflow_run.cancelled`` event for a 2026 endpoint (checked with the official SDK
1.20 helpers), the 2025 shape without it, and signed data URLs above a threshold."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer, verify_webhook
from extend_assets.emulator.webhook_payloads import WebhookEndpoint
from extend_assets_tests.emulator.sdk120 import install_sdk120, run_with_sdk120, sdk_cache_dir

SECRET = "wss_payloads"
HEADERS = {"x-extend-api-version": "2026-02-09"}


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    received: list[tuple[bytes, dict[str, str]]] = []
    server = HTTPServer(("127.0.0.1", 0), type("R", (Receiver,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def deliveries(
    url: str, received: list[tuple[bytes, dict[str, str]]], version: str, **options: Any
) -> list[tuple[bytes, dict[str, str]]]:
    """Three runs (processed, needs review, cancelled) through an emulator whose webhook
    endpoint is pinned to ``version``; the deliveries once they have all arrived."""
    with EmulatorServer(
        port=0, webhook_url=url, webhook_secret=SECRET, webhook_api_version=version, **options
    ) as emu:
        auth = {"Authorization": f"Bearer {emu.api_key}", **HEADERS}
        post = f"{emu.base_url}/workflow_runs"
        for text in ("Invoice Number: H-1\n", "Invoice Number: H-2 (?)\n"):
            body = {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": text}}
            assert requests.post(post, json=body, headers=auth, timeout=10).status_code == 200
        assert emu.wait_idle(120)
        emu.set_throughput(runs_per_minute=0)
        body = {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": "x"}}
        run_id = requests.post(post, json=body, headers=auth, timeout=10).json()["id"]
        requests.post(f"{post}/{run_id}/cancel", headers=auth, timeout=10).raise_for_status()
        assert emu.wait_idle(120)
        want = 3 if version == "2026-02-09" else 2
        deadline = time.monotonic() + 120  # a hang guard, not a speed check
        while len(received) < want and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # nothing more should come
        # Signed data URLs are served by this emulator: resolve them while it runs.
        for body_bytes, _ in list(received):
            payload = json.loads(body_bytes)["payload"]
            if "data" in payload:
                answer = requests.get(payload["data"], timeout=10)
                assert answer.status_code == 200 and answer.json()["id"].startswith("workflow_run_")
        return list(received)


def test_a_2026_endpoint_gets_2026_runs_and_the_cancelled_event(
    receiver: tuple[str, list[tuple[bytes, dict[str, str]]]], tmp_path: Path
) -> None:
    url, received = receiver
    got = deliveries(url, received, "2026-02-09")
    events = [verify_webhook(body, headers, SECRET) for body, headers in got]
    assert sorted(e["eventType"] for e in events) == [
        "workflow_run.cancelled", "workflow_run.completed", "workflow_run.needs_review"]  # fmt: skip
    for event in events:
        payload = event["payload"]
        assert "dashboardUrl" in payload and "workflowVersion" in payload
        assert "outputs" not in payload and "url" not in payload and "reviewedByUser" in payload
    done = next(e["payload"] for e in events if e["eventType"] == "workflow_run.completed")
    assert [s["stepType"] for s in done["stepRuns"]] == ["CLASSIFY", "EXTRACT"]
    # The official SDK 1.20 verifies and types every event.
    path = tmp_path / "deliveries.json"
    path.write_text(json.dumps([{"body": b.decode(), "headers": h} for b, h in got]))
    out = run_with_sdk120(install_sdk120(sdk_cache_dir()), "sdk120_webhooks.py", str(path), SECRET)
    parsed = [json.loads(line) for line in out.strip().splitlines()]
    assert all(p["typed"] and not p["signed"] for p in parsed), parsed
    assert sorted(p["type"] for p in parsed) == sorted(e["eventType"] for e in events)


def test_large_2026_payloads_come_as_signed_data_urls_the_sdk_resolves(
    receiver: tuple[str, list[tuple[bytes, dict[str, str]]]], tmp_path: Path
) -> None:
    url, received = receiver
    with EmulatorServer(
        port=0, webhook_url=url, webhook_secret=SECRET, webhook_api_version="2026-02-09",
        webhook_url_threshold_bytes=500,
    ) as emu:  # fmt: skip
        auth = {"Authorization": f"Bearer {emu.api_key}", **HEADERS}
        body = {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": "Invoice Number: S-1\n"},
                "metadata": {"k": "v"}}  # fmt: skip
        post = requests.post(f"{emu.base_url}/workflow_runs", json=body, headers=auth, timeout=10)
        assert emu.wait_idle(120)
        deadline = time.monotonic() + 120  # a hang guard, not a speed check
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        event = verify_webhook(*received[0], SECRET)
        assert event["payload"] == {
            "object": "signed_data_url",
            "data": event["payload"]["data"],
            "id": post.json()["id"],
            "metadata": {"k": "v"},
        }
        assert requests.get(event["payload"]["data"] + "x", timeout=10).status_code == 404
        path = tmp_path / "deliveries.json"
        path.write_text(json.dumps([{"body": received[0][0].decode(), "headers": received[0][1]}]))
        target = install_sdk120(sdk_cache_dir())
        out = run_with_sdk120(target, "sdk120_webhooks.py", str(path), SECRET)
    (parsed,) = [json.loads(line) for line in out.strip().splitlines()]
    assert parsed == {"type": "workflow_run.completed", "typed": True, "signed": True,
                      "steps": ["CLASSIFY", "EXTRACT"]}  # fmt: skip


def test_a_2025_endpoint_gets_2025_runs_no_cancelled_event_and_data_urls(
    receiver: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, received = receiver
    got = deliveries(url, received, "2025-04-21", webhook_url_threshold_bytes=100_000)
    events = [verify_webhook(body, headers, SECRET) for body, headers in got]
    assert sorted(e["eventType"] for e in events) == [
        "workflow_run.completed", "workflow_run.needs_review"]  # fmt: skip
    assert all("outputs" in e["payload"] and "url" in e["payload"] for e in events)
    received.clear()
    small = deliveries(url, received, "2025-04-21", webhook_url_threshold_bytes=10)
    assert all(set(json.loads(b)["payload"]) == {"data"} for b, _ in small)


def test_an_unknown_webhook_version_is_refused() -> None:
    with pytest.raises(ValueError, match="2025-04-21, 2026-02-09"):
        WebhookEndpoint("http://x", "s", api_version="2024-12-23")
