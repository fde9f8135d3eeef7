"""EventSettler: groups settle from landed events with no API call; silent ones reconcile."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

from extend_assets.sensing import PollerSettings, SubmittedGroup
from extend_assets.sensing.cursor import SensorCursor
from extend_assets.sensing.events import EventSettler
from extend_assets.webhooks import WebhookEvent, open_landing_zone
from extend_assets.webhooks.landing import LandingZone
from extend_assets_tests.sensing.fakes import FakeClock, FakeExtend

EVENT_TYPES = {
    "PROCESSED": "workflow_run.completed",
    "FAILED": "workflow_run.failed",
    "NEEDS_REVIEW": "workflow_run.needs_review",
}
_ids = itertools.count(1)


def land(
    zone: LandingZone, run_id: str, batch: str, status: str, at: float, **extra: object
) -> None:
    payload = {"id": run_id, "batchId": batch, "status": status, **extra}
    event = WebhookEvent(f"evt_{next(_ids)}", EVENT_TYPES[status], "2025-04-21", payload)
    zone.land(event, now=datetime.fromtimestamp(at, UTC))


class Harness:
    def __init__(self, tmp_path: Path, policy: str = "wait", **settings: float) -> None:
        self.fake = FakeExtend()
        self.clock = FakeClock(self.fake.now)
        self.zone = open_landing_zone(str(tmp_path / "landing"))
        self.settings = PollerSettings(
            workflow_id="wf",
            review_policy=policy,  # type: ignore[arg-type]
            event_settle_seconds=0.0,
            **settings,  # type: ignore[arg-type]
        )
        self.cursor = SensorCursor(policy=policy)

    def tick(self, groups: list[SubmittedGroup] = ()) -> EventSettler:  # type: ignore[assignment]
        cursor = SensorCursor.from_json(self.cursor.to_json(), policy=self.cursor.policy)
        settler = EventSettler(self.fake, cursor, self.settings, self.clock, self.zone)
        settler.add_submissions(groups)
        settler.tick()
        self.cursor = cursor
        return settler

    def group(self, gid: str, batch: str, count: int) -> SubmittedGroup:
        return SubmittedGroup(gid, ("2025-01-01",), (batch,), (), count, self.clock.now)

    def later(self, seconds: float) -> float:
        self.clock.now += seconds
        self.fake.advance(seconds)
        return self.clock.now


def test_a_group_settles_from_its_events_with_no_api_call(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    batch, ids = h.fake.add_batch(5)
    first = h.tick([h.group("g1", batch, 5)])
    assert first.report.requests == [] and h.fake.calls["list"] == 0
    at = h.later(1)
    for run_id in ids[:3]:
        land(h.zone, run_id, batch, "PROCESSED", at)
    # a duplicate delivery of one event (same eventId) lands once; redelivery is a no-op
    h.later(1)
    second = h.tick()
    assert second.report.events_read == 3 and second.report.requests == []
    at = h.later(1)
    land(h.zone, ids[3], batch, "FAILED", at)
    land(h.zone, ids[4], batch, "PROCESSED", at)
    h.later(1)
    third = h.tick()
    assert [r.partitions for r in third.report.requests] == [("2025-01-01",)]
    assert third.report.runs_settled_from_events == 5 and third.report.runs_reconciled == 0
    assert h.fake.calls == {"list": 0, "get": 0, "cancel": 0}
    assert "5 run(s) settled from events" in third.report.summary(h.cursor)


def test_reordered_review_events_count_each_run_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, policy="settle")
    batch, ids = h.fake.add_batch(2)
    h.tick([h.group("g1", batch, 2)])
    at = h.later(1)
    # run 0 was reviewed: its completed event lands before its needs_review event
    land(h.zone, ids[0], batch, "PROCESSED", at, reviewed=True, reviewedAt="2025-01-01T00:00:00Z")
    land(h.zone, ids[0], batch, "NEEDS_REVIEW", at + 0.001)
    h.later(1)
    assert h.tick().report.requests == []  # run 1 has no event yet: 1 of 2 settled
    land(h.zone, ids[1], batch, "PROCESSED", h.later(1))
    h.later(1)
    assert len(h.tick().report.requests) == 1


def test_a_group_missing_an_event_is_reconciled_through_the_api_after_the_grace(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, reconcile_after_seconds=300.0)
    batch, ids = h.fake.add_batch(4)
    h.tick([h.group("g1", batch, 4)])
    at = h.later(1)
    for run_id in ids[:3]:
        land(h.zone, run_id, batch, "PROCESSED", at)
    h.fake.set_status(ids[:3], "PROCESSED")
    h.fake.set_status(ids[3:], "CANCELLED")  # no event on 2025-04-21
    h.later(1)
    assert h.tick().report.requests == []
    assert h.fake.calls["list"] == 0  # within the grace: no call
    h.later(400)
    settled = h.tick()
    assert len(settled.report.requests) == 1
    assert settled.report.runs_reconciled == 1 and settled.report.runs_settled_from_events == 3
    assert 0 < h.fake.calls["list"] <= 4 and h.fake.calls["get"] == 0


def test_events_landed_before_the_group_joined_are_counted(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    other_batch, _ = h.fake.add_batch(1)
    h.tick([h.group("g0", other_batch, 1)])  # the stream has started
    batch, ids = h.fake.add_batch(2)
    at = h.later(1)
    for run_id in ids:
        land(h.zone, run_id, batch, "PROCESSED", at)
    h.later(1)
    h.tick()  # reads both events before the group that owns them is known
    settled = h.tick([h.group("g1", batch, 2)])
    assert [r.reason for r in settled.report.requests] == ["every run settled"]


def test_events_landed_twice_never_settle_a_group_with_a_run_still_pending(
    tmp_path: Path,
) -> None:
    """4 of 5 runs settled, each of their events landed twice (two eventIds, as two
    receivers without a shared claim or a resending sender would), read over several
    pages and ticks: 8 sightings for 5 runs, but the group waits for its 5th run."""
    h = Harness(tmp_path, event_page_size=3)
    batch, ids = h.fake.add_batch(5)
    h.tick([h.group("g1", batch, 5)])
    for copy in range(2):
        at = h.later(1)
        for run_id in ids[:4]:
            land(h.zone, run_id, batch, "PROCESSED", at + copy * 0.5)
        h.later(1)
        report = h.tick().report
        assert report.requests == []
    assert h.cursor.open and h.cursor.open[0].counts["PROCESSED"] == 8  # sightings
    assert h.fake.calls["list"] == 0  # nothing asked of Extend while events still come
    h.later(1)
    assert h.tick().report.requests == []  # no new event: not counted again, still open
    at = h.later(1)
    land(h.zone, ids[4], batch, "FAILED", at)
    h.later(1)
    done = h.tick().report
    assert [r.partitions for r in done.requests] == [("2025-01-01",)]
    assert done.runs_settled_from_events == 5 and h.fake.calls["list"] == 0


def test_a_reviewed_run_counts_once_and_waits_for_its_outcome(tmp_path: Path) -> None:
    h = Harness(tmp_path)  # review policy "wait": NEEDS_REVIEW is not settled
    batch, ids = h.fake.add_batch(2)
    h.tick([h.group("g1", batch, 2)])
    at = h.later(1)
    land(h.zone, ids[0], batch, "PROCESSED", at)
    land(h.zone, ids[1], batch, "NEEDS_REVIEW", at)
    land(h.zone, ids[0], batch, "PROCESSED", at + 0.1)  # a second copy
    h.later(1)
    assert h.tick().report.requests == []
    at = h.later(1)
    land(h.zone, ids[1], batch, "PROCESSED", at, reviewedAt="2026-01-01T00:00:00Z")
    h.later(1)
    assert [r.partitions for r in h.tick().report.requests] == [("2025-01-01",)]
