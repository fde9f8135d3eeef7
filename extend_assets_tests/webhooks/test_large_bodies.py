"""Large inline bodies: the limit is configurable, and memory does not follow the body.

Bodies above 1 MiB are spooled to disk while their signature is checked, their
envelope is read and their payload re-encoded (scrubbed) as a stream into the landing
zone: the landed record equals the in-memory path's, and the receiver's peak memory
grows by far less than the body.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from extend_assets.localstack import LocalS3Server
from extend_assets.webhooks.body import read_envelope
from extend_assets.webhooks.events import scrub
from extend_assets.webhooks.signature import signed_headers
from extend_assets.webhooks.stores import open_landing_zone
from extend_assets_tests.webhooks.conftest import SECRET, Receiver

MiB = 1024 * 1024
SIGNED = "https://b.s3.amazonaws.com/a.pdf?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=feedface"


def _payload(target_bytes: int, run: str = "workflow_run_big") -> dict[str, Any]:
    row = {
        "text": 'Line "quoted" \\ back é ☃ \U0001f600 \u2028 ' * 4,
        "n": 12345678901234567890,
        "x": 1.5e-7,
        "ok": True,
        "none": None,
        "empty": {},
        "list": [],
        "note": f"Could not download {SIGNED}",
        "files": [{"fileUrl": SIGNED, "presignedUrl": {"nested": [SIGNED]}, "name": "a.pdf"}],
    }
    size = len(json.dumps(row))
    return {
        "object": "workflow_run",
        "id": run,
        "status": "FAILED",
        "batchId": "batch_big",
        "failureMessage": f"Could not download {SIGNED}",
        "output": {"rows": [row] * (target_bytes // size + 1)},
        "metadata": {"note": f"see {SIGNED}"},
    }


def _body(event_id: str, target_bytes: int) -> bytes:
    envelope = {"eventType": "workflow_run.failed", "payload": _payload(target_bytes)}
    envelope["eventId"] = event_id  # after the payload: the envelope is read in any order
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("store", ["dir", "s3"])
def test_a_streamed_record_equals_the_in_memory_one(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if store == "s3":
        s3: LocalS3Server = request.getfixturevalue("local_s3")
        client = s3.boto3_client()
        bucket = f"big-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        zone = open_landing_zone(f"s3://{bucket}/p", s3_client=client)
    else:
        zone = open_landing_zone(str(tmp_path / "landing"))
    body = _body("evt_big", 12 * MiB)  # above S3's 8 MiB multipart threshold
    event = read_envelope(io.BytesIO(body), "2026-02-09")
    assert (event.event_id, event.event_type, event.run_id, event.batch_id, event.run_status) == (
        "evt_big",
        "workflow_run.failed",
        "workflow_run_big",
        "batch_big",
        "FAILED",
    )
    assert "output" not in event.payload  # only the top-level scalars are held
    zone.land(event)
    [landed] = list(zone.iter_after(None, settle_seconds=0))
    assert landed.payload == scrub(json.loads(body)["payload"])
    assert landed.run_status == "FAILED" and zone.count_runs(["batch_big"], ["FAILED"]) == 1
    text = json.dumps(landed.payload)
    assert "AKIAEXAMPLE" not in text and "feedface" not in text


@pytest.mark.parametrize(
    "body",
    [b'{"eventId":"e","eventType":"t","payload":[1]}', b'{"eventId":"e","eventType":"t"}',
     b'[{"eventId":"e"}]', b'{"eventId":"e","eventType":"t","payload":{}} trailing',
     b'{"eventId":"e","eventId":"f","eventType":"t","payload":{}}', b"{" * 5000],
)  # fmt: skip
def test_bad_large_envelopes_are_refused_like_small_ones(body: bytes) -> None:
    from extend_assets.webhooks.errors import EventError

    with pytest.raises(EventError):
        read_envelope(io.BytesIO(body), "2025-04-21")


def _post(receiver: Receiver, body: bytes) -> requests.Response:
    headers = {**signed_headers(body, SECRET), "Content-Type": "application/json"}
    return requests.post(receiver.url, data=body, headers=headers, timeout=300)


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_the_limit_comes_from_the_environment_and_memory_stays_bounded(
    make_receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    limit = 48 * MiB
    receiver = make_receiver(env={"EXTEND_WEBHOOK_MAX_BODY_BYTES": str(limit)}).start()
    assert receiver.process is not None
    warm = _post(receiver, _body("evt_warm", 2 * MiB))  # load every code path once
    assert warm.status_code == 200, warm.text
    before = _peak_kib(receiver.process.pid)
    big = _body("evt_40mib", 40 * MiB)
    answer = _post(receiver, big)
    assert answer.status_code == 200 and answer.json()["status"] == "landed", answer.text
    grown_mib = (_peak_kib(receiver.process.pid) - before) / 1024
    assert grown_mib < 16, f"peak memory grew {grown_mib:.0f} MiB for a 40 MiB body"
    zone = open_landing_zone(receiver.landing)
    [landed] = [e for e in zone.iter_after(None, settle_seconds=0) if e.event_id == "evt_40mib"]
    assert landed.payload == scrub(json.loads(big)["payload"])
    too_big = _post(receiver, _body("evt_too_big", limit + MiB))
    assert too_big.status_code == 413
    assert "--max-body-bytes" in too_big.json()["error"]
    assert "EXTEND_WEBHOOK_MAX_BODY_BYTES" in too_big.json()["error"]
