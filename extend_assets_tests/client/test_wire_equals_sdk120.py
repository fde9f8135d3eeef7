"""ExtendClient at 2026-02-09 sends what the official SDK 1.20.0 sends for the same
calls: both talk to one capturing loopback server, and method, path, query, the
headers that matter and the JSON body must be equal, call by call."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from extend_assets.client import ExtendClient
from extend_assets_tests.client.payloads import KEY, WORKFLOW
from extend_assets_tests.client.payloads_2026 import run_2026
from extend_assets_tests.emulator.sdk120 import install_sdk120, run_with_sdk120, sdk_cache_dir

URL = "https://bucket.s3.amazonaws.com/inv.pdf?X-Amz-Signature=abc"
HEADERS = ("authorization", "x-extend-api-version", "x-extend-workspace-id")


class Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.seen.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "headers": {h: self.headers.get(h) for h in HEADERS},
                "content_type": (self.headers.get("Content-Type") or "").split(";")[0]
                if raw
                else None,
                "body": json.loads(raw) if raw else None,
            }
        )
        if parts.path.endswith("/batch"):
            body: Any = {"batchId": "batch_1"}
        elif self.command == "GET" and parts.path == "/workflow_runs":
            body = {"object": "list", "data": [], "nextPageToken": None}
        elif self.command == "DELETE":
            body = {"id": parts.path.rsplit("/", 1)[-1]}
        else:
            body = run_2026("workflow_run_1")
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def capture() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (Capture,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def our_calls(base_url: str) -> None:
    with ExtendClient(KEY, base_url=base_url, api_version="2026-02-09") as client:
        client.run_workflow(
            WORKFLOW,
            files=[{"fileUrl": URL, "fileName": "inv.pdf"}],
            version="3",
            priority=40,
            metadata={"source": "s3", "extend:usage_tags": ["prod"]},
        )
        client.run_workflow(WORKFLOW, files=[{"fileId": "file_abc"}])
        client.run_workflow(WORKFLOW, raw_texts=["Invoice Number: 7"], secrets={"s": "1"})
        client.run_package(
            WORKFLOW, [{"url": URL, "name": "a.pdf"}, {"id": "file_b"}], metadata={"k": "v"}
        )
        client.batch_run_workflow(
            WORKFLOW,
            [
                {"file": {"fileUrl": URL, "fileName": "a.pdf"}, "metadata": {"key": "a.pdf"}},
                {"rawText": "hello", "secrets": {"t": "x"}},
            ],
            version="draft",
            priority=12,
        )
        client.list_workflow_runs_page(
            status="PROCESSED", workflow_id=WORKFLOW, batch_id="batch_1",
            file_name_contains="inv", sort_by="createdAt", sort_dir="asc", page_size=50,
            page_token="tok",
        )  # fmt: skip
        client.get_workflow_run("workflow_run_1")
        client.update_workflow_run("workflow_run_1", name="renamed", metadata={"a": 1})
        client.cancel_workflow_run("workflow_run_1")
        client.delete_workflow_run("workflow_run_1")


def test_client_requests_equal_the_sdk120_requests(
    capture: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, seen = capture
    target = install_sdk120(sdk_cache_dir())
    run_with_sdk120(
        target, str(Path(__file__).with_name("sdk120_calls.py")), base_url, KEY, WORKFLOW
    )
    sdk_requests = list(seen)
    seen.clear()
    our_calls(base_url)
    assert len(seen) == len(sdk_requests) == 10
    assert sdk_requests[0]["headers"]["x-extend-api-version"] == "2026-02-09"
    assert sdk_requests[0]["body"]["workflow"] == {"id": WORKFLOW, "version": "3"}
    for ours, theirs in zip(seen, sdk_requests, strict=True):
        assert ours == theirs
