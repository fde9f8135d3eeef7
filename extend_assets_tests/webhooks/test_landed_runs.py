"""The runs step's reader of a landing zone (``iter_runs_for``): the events of
``iter_events_for`` with their payloads as JSON text, read concurrently from S3."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from extend_assets.localstack.s3 import LocalS3Server
from extend_assets.webhooks.errors import LandingError
from extend_assets.webhooks.events import WebhookEvent
from extend_assets.webhooks.landing import LandingZone, event_position
from extend_assets.webhooks.stores import DirectoryLandingZone, S3LandingZone, open_landing_zone

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SIGNED = "https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Credential=AKIA&X-Amz-Signature=abc123"


def _event(n: int, run: str, batch: str | None = "batch_1") -> WebhookEvent:
    payload: dict[str, Any] = {
        "id": run,
        "status": "PROCESSED",
        "batchId": batch,
        "files": [{"id": "f", "presignedUrl": SIGNED}],
        "metadata": {"n": n},
    }
    return WebhookEvent(f"event_{n}", "workflow_run.completed", "2025-04-21", payload)


def _land(zone: LandingZone, count: int) -> None:
    for n in range(count):
        batch = "batch_1" if n % 3 else None  # every third run created alone: by-run index
        zone.land(_event(n, f"workflow_run_{n % 7}", batch), now=T0 + timedelta(seconds=n))
    zone.land(_event(2, "workflow_run_2"), now=T0 + timedelta(seconds=99))  # a redelivery


@pytest.fixture(params=["dir", "s3"])
def zone(request: pytest.FixtureRequest, tmp_path: Path) -> LandingZone:
    if request.param == "dir":
        return open_landing_zone(str(tmp_path / "landing"))
    s3: LocalS3Server = request.getfixturevalue("local_s3")
    bucket = f"landing-{uuid.uuid4().hex[:12]}"
    client = s3.boto3_client()
    client.create_bucket(Bucket=bucket)
    return open_landing_zone(f"s3://{bucket}/hooks", s3_client=client)


@pytest.mark.parametrize("workers", [1, 3])
def test_runs_are_the_events_with_their_payload_as_text(zone: LandingZone, workers: int) -> None:
    _land(zone, 12)
    runs = [f"workflow_run_{n}" for n in range(7)]
    events = list(zone.iter_events_for(runs=runs, batches=["batch_1"]))
    landed = list(zone.iter_runs_for(runs=runs, batches=["batch_1"], max_workers=workers))
    assert [e.event_id for e in landed] == [e.event_id for e in events]
    assert len(landed) == 12  # each eventId once, oldest first
    for run, event in zip(landed, events, strict=True):
        assert (run.position, run.run_id, run.batch_id, run.run_status, run.api_version) == (
            event.position,
            event.run_id,
            event.batch_id,
            event.run_status,
            event.api_version,
        )
        assert json.loads(run.payload_json) == event.payload == run.payload
        assert b"X-Amz-Signature" not in run.payload_json and "payload" not in repr(run)


def test_a_record_with_nan_or_of_another_shape_is_read_whole(tmp_path: Path) -> None:
    zone = DirectoryLandingZone(tmp_path / "landing")
    event = _event(1, "workflow_run_1")
    event.payload["usage"] = {"credits": float("nan")}
    position = zone.land(event, now=T0).position
    run = zone.read_run(position)
    assert run.run_id == "workflow_run_1"
    assert json.loads(run.payload_json)["usage"] == {"credits": None}  # as orjson writes NaN
    (zone.root / "events" / f"{position}.json").write_text(json.dumps({"eventId": "x"}))
    with pytest.raises(LandingError, match="not a landed event"):
        zone.read_run(position)


class _MeetingClient:
    """A boto3 client whose event GETs wait until ``parties`` of them are in flight at
    once: reading them one by one would break the barrier (its timeout)."""

    def __init__(self, client: Any, parties: int) -> None:
        self._client = client
        self.barrier = threading.Barrier(parties, timeout=120)
        self.gets = 0
        self._lock = threading.Lock()

    def get_object(self, **kwargs: Any) -> Any:
        if "/events/" in kwargs["Key"]:
            with self._lock:
                self.gets += 1
                first = self.gets <= self.barrier.parties
            if first:
                self.barrier.wait()  # BrokenBarrierError if the others never come
        return self._client.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_s3_events_are_read_concurrently_and_in_order(local_s3: LocalS3Server) -> None:
    bucket = f"landing-{uuid.uuid4().hex[:12]}"
    client = local_s3.boto3_client()
    client.create_bucket(Bucket=bucket)
    writer = S3LandingZone(bucket, "hooks", client=client)
    _land(writer, 12)
    meeting = _MeetingClient(client, parties=4)
    reader = S3LandingZone(bucket, "hooks", client=meeting)
    assert reader.read_workers > 1
    runs = [f"workflow_run_{n}" for n in range(7)]
    landed = [e.event_id for e in reader.iter_runs_for(runs=runs, batches=["batch_1"])]
    assert not meeting.barrier.broken and meeting.gets == 12
    assert landed == [e.event_id for e in writer.iter_events_for(runs=runs, batches=["batch_1"])]


def _positions(zone: LandingZone, workers: int) -> list[tuple[str, str]]:
    """(eventId, position) as both readers give them, which must agree."""
    runs = zone.iter_runs_for(batches=["batch_1"], max_workers=workers)
    found = [(e.event_id, e.position) for e in runs]
    assert found == [(e.event_id, e.position) for e in zone.iter_events_for(batches=["batch_1"])]
    return found


@pytest.mark.parametrize("workers", [1, 3])
def test_an_event_at_two_positions_is_read_once_at_the_oldest(
    zone: LandingZone, workers: int
) -> None:
    # a takeover: the claimed writer was slow, not dead, and finished at its position too
    old, new = (event_position("event_6", T0 + timedelta(seconds=s)) for s in (0, 61))
    zone._write_event(_event(6, "workflow_run_6"), new, "json")
    zone._write_event(_event(6, "workflow_run_6"), old, "json")
    middle = zone.land(_event(5, "workflow_run_5"), now=T0 + timedelta(seconds=30)).position
    assert _positions(zone, workers) == [("event_6", old), ("event_5", middle)]


@pytest.mark.parametrize("workers", [1, 3])
def test_a_body_unlike_its_position_is_deduped_by_its_own_event_id(
    zone: LandingZone, workers: int
) -> None:
    at = [event_position(f"event_{n}", T0 + timedelta(seconds=s)) for n, s in
          [(1, 0), (8, 1), (9, 2), (8, 3), (1, 4)]]  # fmt: skip
    zone._write_event(_event(1, "workflow_run_1"), at[0], "json")
    zone._write_event(_event(9, "workflow_run_9"), at[1], "json")  # at event_8's name
    zone._write_event(_event(9, "workflow_run_9"), at[2], "json")
    zone._write_event(_event(8, "workflow_run_8"), at[3], "json")
    zone._write_event(_event(1, "workflow_run_1"), at[4], "json")
    # as a set of every eventId read would have it: each body's eventId once, first seen
    assert _positions(zone, workers) == [("event_1", at[0]), ("event_9", at[1]), ("event_8", at[3])]
