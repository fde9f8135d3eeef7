"""Files fetched over presigned URLs, failure codes, restart from --state, and webhooks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from extend_assets.client import ExtendClient
from extend_assets.emulator import (
    SAMPLE_WORKFLOW_ID,
    EmulatorServer,
    WebhookVerificationError,
    verify_webhook,
)
from extend_assets.emulator.rules import parse_currency, parse_date
from extend_assets.emulator.state import StateFileInUseError
from extend_assets.emulator.webhooks import sign
from extend_assets.samples import render


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


def presign(local_s3: Any, bucket: str, key: str, body: bytes) -> str:
    client = local_s3.boto3_client()
    client.put_object(Bucket=bucket, Key=key, Body=body)
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
    )
    return url


def test_files_are_downloaded_and_failures_carry_their_code(
    emu: EmulatorServer, local_s3: Any
) -> None:
    bucket = "emulator-files"
    local_s3.boto3_client().create_bucket(Bucket=bucket)
    pdf = render.render_pdf(
        "INVOICE", [("Invoice Number", "PDF-9"), ("Total", "12.00 USD")], [], "bye"
    )
    cases = {
        "good.pdf": (pdf, None),
        "empty.pdf": (b"", "CORRUPT_FILE"),
        "broken.pdf": (b"garbage, not a pdf", "CORRUPT_FILE"),
        "locked.pdf": (
            render.render_pdf("x", [], [], "y", password="pw"),
            "PASSWORD_PROTECTED_FILE",
        ),
        "scan.pdf": (render.render_scanned_pdf(), "OCR_ERROR"),
        "archive.zip": (b"PK\x03\x04", "FILE_TYPE_NOT_SUPPORTED"),
    }
    files = [
        {"fileUrl": presign(local_s3, bucket, name, body), "fileName": name}
        for name, (body, _) in cases.items()
    ]
    gone = local_s3.boto3_client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "deleted.pdf"}, ExpiresIn=600
    )
    files.append({"fileUrl": gone, "fileName": "deleted.pdf"})
    with ExtendClient(emu.api_key, base_url=emu.base_url) as client:
        runs = client.run_workflow(SAMPLE_WORKFLOW_ID, files=files)
        assert emu.wait_idle(120)
        done = {r.name: client.get_workflow_run(r.id) for r in runs}
    assert done["good.pdf"].status == "PROCESSED"
    assert done["good.pdf"].outputs[1].output["value"]["invoice_number"] == "PDF-9"
    assert done["good.pdf"].files[0].type == "PDF" and done["good.pdf"].files[0].page_count == 1
    for name, (_, code) in cases.items():
        if code:
            assert done[name].status == "FAILED", name
            assert done[name].failure_reason == "FAILED_TO_PROCESS_FILE"
            assert str(done[name].failure_message).startswith(code), name
    assert str(done["deleted.pdf"].failure_message).startswith("UNABLE_TO_DOWNLOAD_FILE")
    assert "X-Amz" not in json.dumps(emu.runs())  # the URL is not kept once used


def test_state_survives_a_restart_and_pending_runs_resume(tmp_path: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    with EmulatorServer(port=0, state_path=state, runs_per_minute=0) as first:
        port = first.port
        with ExtendClient(first.api_key, base_url=first.base_url) as client:
            batch = client.batch_run_workflow(
                SAMPLE_WORKFLOW_ID, [{"rawText": f"Invoice Number: S-{i}\n"} for i in range(5)]
            )
    with EmulatorServer(port=port, state_path=state) as second:
        assert second.wait_idle(120)
        with ExtendClient(second.api_key, base_url=second.base_url) as client:
            runs = list(client.list_workflow_runs(batch_id=batch, page_size=2))
        assert len(runs) == 5 and {r.status for r in runs} == {"PROCESSED"}
        assert len(second.submissions()) == 5


def test_a_second_emulator_on_a_state_file_in_use_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    with EmulatorServer(port=0, state_path=state, runs_per_minute=0) as first:
        with ExtendClient(first.api_key, base_url=first.base_url) as client:
            client.batch_run_workflow(SAMPLE_WORKFLOW_ID, [{"rawText": "Invoice Number: L-1\n"}])
        with pytest.raises(StateFileInUseError, match=f"pid {os.getpid()}.*URL"):
            EmulatorServer(port=0, state_path=state)
        assert len(first.runs()) == 1  # the refused one touched nothing
    with EmulatorServer(port=0, state_path=state) as after:  # released on stop
        assert len(after.runs()) == 1


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_webhooks_are_signed_and_verifiable() -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    _Receiver.received.clear()
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    try:
        with EmulatorServer(port=0, webhook_url=url, webhook_secret="wss_test") as emu:
            with ExtendClient(emu.api_key, base_url=emu.base_url) as client:
                client.run_workflow(
                    SAMPLE_WORKFLOW_ID,
                    raw_texts=["Invoice Number: W-1\n", "Invoice Number: W-2 (?)\n"],
                )
            assert emu.wait_idle(120)
            deadline = time.monotonic() + 120  # a hang guard, not a speed check
            while len(_Receiver.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        receiver.shutdown()
    events = [verify_webhook(body, headers, "wss_test") for body, headers in _Receiver.received]
    assert sorted(e["eventType"] for e in events) == [
        "workflow_run.completed",
        "workflow_run.needs_review",
    ]
    assert all(
        e["eventId"].startswith("event_") and e["payload"]["object"] == "workflow_run"
        for e in events
    )
    body, headers = _Receiver.received[0]
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(body, headers, "wrong-secret")
    with pytest.raises(WebhookVerificationError, match="replay"):
        verify_webhook(body, headers, "wss_test", now=time.time() + 3600)


def test_signature_scheme_matches_the_reference() -> None:
    # v0:{timestamp}:{body}, HMAC-SHA256, lowercase hex
    import hashlib
    import hmac

    body = b'{"eventId":"event_1"}'
    expected = hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign(body, "secret", 1700000000) == expected
    headers = {"X-Extend-Request-Timestamp": "1700000000", "X-Extend-Request-Signature": expected}
    assert verify_webhook(body, headers, "secret", now=1700000100)["eventId"] == "event_1"
    headers["X-Extend-Request-Signature"] = expected.upper()  # the SDK compares exactly
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, "secret", now=1700000100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.50 EUR", {"amount": 1234.5, "iso_4217_currency_code": "EUR"}),
        ("EUR 1,234.50", {"amount": 1234.5, "iso_4217_currency_code": "EUR"}),
        ("€1,234.50", {"amount": 1234.5, "iso_4217_currency_code": "EUR"}),
        ("$12.00", {"amount": 12.0, "iso_4217_currency_code": "USD"}),
        ("12", {"amount": 12.0, "iso_4217_currency_code": None}),
        ("twelve", None),
    ],
)
def test_currency_parsing(text: str, expected: Any) -> None:
    assert parse_currency(text) == expected


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025-01-15", "2025-01-15"),
        ("January 15, 2025", "2025-01-15"),
        ("15 Jan 2025", "2025-01-15"),
        ("15.01.2025", "2025-01-15"),
        ("15/01/2025", "2025-01-15"),
        ("01/15/2025", "2025-01-15"),
        ("not a date", None),
    ],
)
def test_date_parsing(text: str, iso: str | None) -> None:
    parsed = parse_date(text)
    assert (parsed.isoformat() if parsed else None) == iso
