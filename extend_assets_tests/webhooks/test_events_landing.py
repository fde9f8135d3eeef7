"""The envelope of both API versions, scrubbing, and the landing zone (dir and S3)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.webhooks.errors import EventError, LandingError
from extend_assets.webhooks.events import WebhookEvent, is_signed_data_url, parse_event, scrub
from extend_assets.webhooks.landing import (
    TAKEOVER_AFTER_SECONDS,
    LandingZone,
    event_position,
    position_time,
)
from extend_assets.webhooks.stores import DirectoryLandingZone, S3LandingZone, open_landing_zone

PRESIGNED = "https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Credential=AKIA&X-Amz-Signature=abc123"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(n: int, run: str | None = None, batch: str | None = "batch_1") -> WebhookEvent:
    payload: dict[str, Any] = {
        "object": "workflow_run",
        "id": run or f"workflow_run_{n}",
        "status": "PROCESSED",
        "batchId": batch,
        "files": [{"object": "file", "presignedUrl": PRESIGNED}],
    }
    return WebhookEvent(f"event_{n}", "workflow_run.completed", "2025-04-21", payload)


def test_both_envelopes_parse_and_cancelled_exists_only_in_2026() -> None:
    body = json.dumps(
        {"eventId": "event_a", "eventType": "workflow_run.cancelled", "payload": {"id": "r"}}
    ).encode()
    assert parse_event(body, "2026-02-09").is_run_event
    assert not parse_event(body, "2025-04-21").is_run_event  # acknowledged, not landed
    step = body.replace(b"workflow_run.cancelled", b"workflow_run.step_run.processed")
    assert not parse_event(step, "2026-02-09").is_run_event


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1]", "bad_envelope"),
        (b'{"eventType":"workflow_run.completed","payload":{}}', "bad_envelope"),
        (b'{"eventId":"../x","eventType":"workflow_run.completed","payload":{}}', "bad_envelope"),
        (b'{"eventId":"e","eventType":"workflow_run.completed","payload":[]}', "bad_envelope"),
    ],
)
def test_bad_bodies_name_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(body, "2025-04-21")
    assert caught.value.reason == reason


def test_signed_data_url_variants_of_both_versions() -> None:
    assert is_signed_data_url({"data": PRESIGNED})  # 2025-04-21 docs
    assert is_signed_data_url(
        {"object": "signed_data_url", "data": PRESIGNED, "id": "workflow_run_1", "metadata": {}}
    )
    assert not is_signed_data_url({"object": "workflow_run", "id": "r", "data": PRESIGNED})
    assert not is_signed_data_url({"data": {"invoice": 1}})


def test_event_repr_and_scrub_hide_signed_urls() -> None:
    event = WebhookEvent("event_1", "workflow_run.completed", "2026-02-09", {"data": PRESIGNED})
    assert "X-Amz" not in repr(event)
    cleaned = json.dumps(scrub({"files": [{"presignedUrl": PRESIGNED}], "note": PRESIGNED}))
    assert "abc123" not in cleaned and "AKIA" not in cleaned
    assert scrub({"url": "https://dashboard.extend.ai/workflows/w?workflowRunId=r"}) == {
        "url": "https://dashboard.extend.ai/workflows/w?workflowRunId=r"
    }


SIGNED_S3 = (
    "https://b.s3.us-east-1.amazonaws.com/in/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=FQoGZXIvYXdzSESSION"
    "&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcafe0123"
)
LEAKS = ("AKIAEXAMPLE", "FQoGZXIvYXdzSESSION", "deadbeefcafe0123", "sv-SAS-SIG", "tok-SECRET")


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "FAILED", "failureMessage": f"Could not download {SIGNED_S3}: 403"},
        {"failureReason": f"fetch failed ({SIGNED_S3.replace('X-Amz', 'x-amz')})"},
        {"metadata": {"note": f"source was {SIGNED_S3} and then retried"}},
        {"metadata": {"notes": ["azure https://a.blob.core.windows.net/c/f?sv=1&SIG=sv-SAS-SIG"]}},
        {"metadata": {"n": "callback https://h/x?Token=tok-SECRET&page=2"}},
        {
            "output": {
                "value": {"link": "next=https%3A%2F%2Fb%2F%3FX-Amz-Signature%3Ddeadbeefcafe0123"}
            }
        },
        {"stepRuns": [{"files": [{"fileUrl": SIGNED_S3}], "message": "saw " + SIGNED_S3}]},
    ],
)
def test_credentials_are_redacted_inside_any_string_of_a_landed_event(
    payload: dict[str, Any], tmp_path: Path
) -> None:
    zone = open_landing_zone(str(tmp_path / "landing"))
    event = WebhookEvent(
        "event_leak", "workflow_run.failed", "2026-02-09", {"id": "workflow_run_1", **payload}
    )
    zone.land(event)
    stored = "".join(p.read_text() for p in (tmp_path / "landing").rglob("*") if p.is_file())
    assert not [leak for leak in LEAKS if leak in stored]
    assert "[redacted]" in stored
    text = json.dumps(scrub(payload)).lower()  # the rest of the text stays
    assert (
        "x-amz-date=20260101t000000z" in text
        or "sv=1" in text
        or "page=2" in text
        or ("next=https%3a%2f%2fb" in text)
    )


@pytest.fixture(params=["dir", "s3"])
def zone(request: pytest.FixtureRequest, tmp_path: Path) -> LandingZone:
    if request.param == "dir":
        return open_landing_zone(str(tmp_path / "landing"))
    s3: LocalS3Server = request.getfixturevalue("local_s3")
    bucket = f"landing-{uuid.uuid4().hex[:12]}"
    client = s3.boto3_client()
    client.create_bucket(Bucket=bucket)
    return open_landing_zone(f"s3://{bucket}/hooks/prod", s3_client=client)


def test_landing_is_once_per_event_id(zone: LandingZone) -> None:
    first = zone.land(_event(1), now=T0)
    again = zone.land(_event(1), now=T0 + timedelta(seconds=5))
    assert first.landed and not again.landed and again.position == first.position
    assert zone.contains("event_1") and not zone.contains("event_2")
    page = zone.read_after(None, settle_seconds=0)
    assert [e.event_id for e in page.events] == ["event_1"]
    landed = page.events[0]
    assert (landed.run_id, landed.batch_id, landed.run_status) == (
        "workflow_run_1",
        "batch_1",
        "PROCESSED",
    )
    assert landed.payload["files"][0]["presignedUrl"] is None  # a credential: not kept
    assert "payload" not in repr(landed)


def test_readers_resume_after_a_position_and_hold_back_young_events(zone: LandingZone) -> None:
    for n in range(5):
        zone.land(_event(n, batch="batch_a" if n < 3 else "batch_b"), now=T0 + timedelta(seconds=n))
    page = zone.read_after(None, limit=2, settle_seconds=0)
    assert [e.event_id for e in page.events] == ["event_0", "event_1"] and page.more
    page = zone.read_after(page.position, limit=2, settle_seconds=0)
    assert [e.event_id for e in page.events] == ["event_2", "event_3"] and page.more
    last = zone.read_after(page.position, limit=2, settle_seconds=0)
    assert [e.event_id for e in last.events] == ["event_4"] and not last.more
    empty = zone.read_after(last.position, settle_seconds=0)
    assert empty.events == [] and empty.position == last.position
    # 2.5 s after T0 with a 0.6 s settle time: events landed at T0+2 s and later wait
    young = zone.read_after(None, settle_seconds=0.6, now=T0 + timedelta(seconds=2.5))
    assert [e.event_id for e in young.events] == ["event_0", "event_1"] and not young.more
    assert [e.event_id for e in zone.iter_after(None, settle_seconds=0)] == [
        f"event_{n}" for n in range(5)
    ]


def test_events_of_runs_and_batches(zone: LandingZone) -> None:
    zone.land(_event(1, run="workflow_run_x", batch="batch_a"), now=T0)
    zone.land(_event(2, run="workflow_run_y", batch="batch_a"), now=T0 + timedelta(seconds=1))
    zone.land(_event(3, run="workflow_run_x", batch="batch_a"), now=T0 + timedelta(seconds=2))
    zone.land(_event(4, run="workflow_run_z", batch=None), now=T0 + timedelta(seconds=3))
    runs = zone.events_for_runs(["workflow_run_x", "workflow_run_z", "workflow_run_none"])
    assert [e.event_id for e in runs] == ["event_1", "event_3", "event_4"]
    assert [e.event_id for e in zone.events_for_batches(["batch_a"])] == [
        "event_1",
        "event_2",
        "event_3",
    ]


def test_a_landing_cut_short_is_finished_by_the_redelivery_without_a_copy(tmp_path: Path) -> None:
    zone = DirectoryLandingZone(tmp_path / "landing")
    real_put = zone._put
    calls: list[str] = []

    def dying_put(key: str, body: bytes) -> None:
        calls.append(key)
        if key.startswith("by-run/"):
            raise LandingError("disk vanished")
        real_put(key, body)

    zone._put = dying_put  # type: ignore[method-assign]
    with pytest.raises(LandingError):
        zone.land(_event(7), now=T0)
    assert not zone.contains("event_7")
    zone._put = real_put  # type: ignore[method-assign]
    assert not zone.land(_event(7), now=T0 + timedelta(seconds=60)).landed  # already there
    assert zone.contains("event_7")
    assert len(list((tmp_path / "landing" / "events").glob("*.json"))) == 1
    assert [e.event_id for e in zone.events_for_runs(["workflow_run_7"])] == ["event_7"]


def test_the_directory_zone_leaves_no_temp_files(tmp_path: Path) -> None:
    zone = DirectoryLandingZone(tmp_path / "landing")
    for n in range(3):
        zone.land(_event(n))
    assert not [p for p in (tmp_path / "landing").rglob(".tmp-*")]


def test_landing_targets_are_checked(tmp_path: Path, local_s3: LocalS3Server) -> None:
    with pytest.raises(ValueError, match="s3://BUCKET/PREFIX"):
        open_landing_zone("gs://bucket/x")
    missing = S3LandingZone("no-such-bucket-here", client=local_s3.boto3_client())
    with pytest.raises(LandingError, match="no-such-bucket-here is not reachable"):
        missing.check()
    assert isinstance(open_landing_zone(f"file://{tmp_path}/x"), DirectoryLandingZone)


def test_the_marker_is_created_once_s3_answers_412_to_the_second_write(zone: LandingZone) -> None:
    assert zone._create("ids/evt_cond", b"pending A")
    assert not zone._create("ids/evt_cond", b"pending B")  # moto: 412 PreconditionFailed
    assert zone._get_optional("ids/evt_cond") == b"pending A"


def test_a_claim_of_another_receiver_is_followed_to_its_position(zone: LandingZone) -> None:
    other = event_position("event_5", T0)
    assert zone._create("ids/event_5", f"pending {other}".encode())  # a replica mid-write
    result = zone.land(_event(5), now=T0 + timedelta(seconds=2))
    assert not result.landed and result.position == other
    assert [e.position for e in zone.iter_after(None, settle_seconds=0)] == [other]
    assert zone.contains("event_5")


def test_a_stale_claim_moves_once_to_a_fresh_position(zone: LandingZone) -> None:
    stale = event_position("event_6", T0)
    assert zone._create("ids/event_6", f"pending {stale}".encode())  # its writer died
    later = T0 + timedelta(seconds=TAKEOVER_AFTER_SECONDS + 1)
    first = zone.land(_event(6), now=later)
    assert first.position != stale and position_time(first.position) == later
    again = zone.land(_event(6), now=later + timedelta(seconds=1))
    assert again.position == first.position and not again.landed
    assert [e.event_id for e in zone.iter_after(None, settle_seconds=0)] == ["event_6"]


def test_a_store_without_create_if_absent_is_refused_at_start(tmp_path: Path) -> None:
    class Ignoring(DirectoryLandingZone):  # as an S3 clone that ignores If-None-Match
        def _create(self, key: str, body: bytes) -> bool:
            self._put(key, body)
            return True

    with pytest.raises(LandingError, match="create-if-absent"):
        Ignoring(tmp_path / "landing").check()
    DirectoryLandingZone(tmp_path / "ok").check()
    assert not list((tmp_path / "ok" / "checks").iterdir())  # the probe is removed


def test_a_landed_event_with_nan_reads_back(tmp_path: Path) -> None:
    """Events are read with orjson, which refuses ``NaN``; Python's json wrote it, and
    reads it back."""
    zone = DirectoryLandingZone(tmp_path / "landing")
    event = _event(1)
    event.payload["usage"] = {"credits": float("nan")}
    zone.land(event, now=T0)
    (found,) = zone.events_for_runs(["workflow_run_1"])
    assert found.payload["usage"]["credits"] != found.payload["usage"]["credits"]
    assert found.payload["id"] == "workflow_run_1"
