"""RunStatusPoller against an in-memory Extend: settling, costs, budget, reviews, errors."""

from __future__ import annotations

import math

import pytest

from extend_assets.sensing.cursor import SensorCursor
from extend_assets.sensing.poller import (
    PollerSettings,
    RunStatusPoller,
    Submission,
    TickReport,
)
from extend_assets_tests.sensors.fakes import FakeExtend

DAY1, DAY2 = "2025-01-01", "2025-01-02"


class Harness:
    """Ticks a poller the way the sensor does: cursor JSON in, cursor JSON out."""

    def __init__(self, fake: FakeExtend, policy: str = "wait", **settings: float) -> None:
        self.fake = fake
        self.policy = policy
        self.settings = PollerSettings(workflow_id="wf", review_policy=policy, **settings)  # type: ignore[arg-type]
        self.cursor_json: str | None = None
        self.requests: list[str] = []
        self.pending: list[Submission] = []

    def submit(
        self,
        group_id: str,
        batches: list[str],
        expected: int,
        partitions: list[str],
        run_ids: tuple[str, ...] = (),
    ) -> None:
        self.pending.append(
            Submission(
                group_id, tuple(partitions), tuple(batches), run_ids, expected, self.fake.now
            )
        )

    def tick(self, cursor_json: str | None = None) -> TickReport:
        source = self.cursor_json if cursor_json is None else cursor_json
        cursor = SensorCursor.from_json(source, self.policy)
        poller = RunStatusPoller(self.fake, cursor, self.settings, lambda: self.fake.now)
        if poller.accepts_submissions and self.pending:
            poller.add_submissions(self.pending)
            self.pending = []
        report = poller.tick()
        self.cursor_json = cursor.to_json()
        self.requests.extend(r.run_key for r in report.requests)
        return report

    @property
    def cursor(self) -> SensorCursor:
        return SensorCursor.from_json(self.cursor_json, self.policy)


def scan_bound(changed: int) -> int:
    return math.ceil(changed / 1000) + 1


def test_group_settles_over_ticks_and_is_requested_once() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batch_a, runs_a = fake.add_batch(1500, DAY1)
    batch_b, runs_b = fake.add_batch(500, DAY2)
    h.submit("run-1", [batch_a, batch_b], 2000, [DAY1, DAY2])
    everything = runs_a + runs_b

    report = h.tick()
    assert report.runs_changed == 2000 and report.list_calls <= scan_bound(2000)
    assert report.requests == []
    steps = [(everything[:700], "PROCESSING"), (everything[:1999], "PROCESSED")]
    for ids, status in steps:
        fake.advance(10)
        fake.set_status(ids, status)
        report = h.tick()
        # Runs read = the changed ones + the overlap below the previous watermark, read
        # again as a guard (here once: the burst of creations all share one timestamp).
        read = report.runs_changed + report.overlap_rereads
        assert len(ids) <= read <= len(ids) + 2000 - 700 * (status == "PROCESSED")
        assert report.list_calls <= scan_bound(read), report
        assert report.requests == []
    fake.advance(10)
    fake.set_status(everything[1999:], "FAILED")
    report = h.tick()
    assert [r.partitions for r in report.requests] == [(DAY1, DAY2)]
    # exact confirmation: 2 batches x 4 unsettled statuses (plus at most one scan page)
    assert 2 * 4 <= report.list_calls <= 1 + 2 * 4
    for _ in range(3):
        fake.advance(30)
        assert h.tick().requests == []
    assert len(h.requests) == 1
    assert h.cursor.open == [] and len(h.cursor.closed) == 1


def test_updates_at_the_watermark_are_neither_missed_nor_counted_twice() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batch, runs = fake.add_batch(4, DAY1)
    h.submit("run-1", [batch], 4, [DAY1])
    fake.advance(5)
    fake.set_status(runs[:1], "PROCESSED")
    h.tick()
    # same server timestamp as the watermark, committed after the scan
    fake.set_status(runs[1:2], "PROCESSED")
    h.tick()
    # a late commit slightly below the watermark
    fake.set_status(runs[2:3], "PROCESSED")
    fake.runs[runs[2]].updated_at = fake.runs[runs[0]].updated_at.replace(microsecond=0)
    h.tick()
    h.tick()
    (group,) = h.cursor.open
    assert group.counts["PROCESSED"] == 3
    fake.advance(1)
    fake.set_status(runs[3:], "PROCESSED")
    assert len(h.tick().requests) == 1


def test_budget_exhausted_scan_resumes_next_tick() -> None:
    fake = FakeExtend()
    h = Harness(fake, tick_budget_seconds=20)
    batch, runs = fake.add_batch(5200, DAY1)
    h.submit("run-1", [batch], 5200, [DAY1])

    def slow_list(_: int) -> None:
        fake.advance(8)  # every call takes 8 s of the sensor's clock

    fake.on_list = slow_list
    report = h.tick()
    assert report.out_of_budget and report.list_calls == 3
    assert h.cursor.scan is not None and h.cursor.scan.token is not None
    seen = report.runs_changed
    for _ in range(5):
        report = h.tick()
        seen += report.runs_changed
        if h.cursor.scan is None:
            break
    assert seen == 5200 and h.cursor.scan is None
    fake.set_status(runs, "PROCESSED")
    for _ in range(10):
        h.tick()
    assert len(h.requests) == 1
    assert h.cursor.closed[0].partitions == [DAY1]


def test_wait_policy_requests_only_after_review() -> None:
    fake = FakeExtend()
    h = Harness(fake, policy="wait")
    batch, runs = fake.add_batch(3, DAY1)
    h.submit("run-1", [batch], 3, [DAY1])
    fake.advance(1)
    fake.set_status(runs[:2], "PROCESSED")
    fake.set_status(runs[2:], "NEEDS_REVIEW")
    for _ in range(3):
        fake.advance(700)  # past the safety-net confirmation too
        assert h.tick().requests == []
    fake.set_status(runs[2:], "PROCESSED", reviewed=True)
    report = h.tick()
    assert [r.partitions for r in report.requests] == [(DAY1,)]


def test_settle_policy_requests_then_rerequests_after_review() -> None:
    fake = FakeExtend()
    h = Harness(fake, policy="settle")
    batch, runs = fake.add_batch(3, DAY1)
    h.submit("run-1", [batch], 3, [DAY1])
    fake.advance(1)
    fake.set_status(runs[:2], "PROCESSED")
    fake.set_status(runs[2:], "NEEDS_REVIEW")
    first = h.tick().requests
    assert [r.partitions for r in first] == [(DAY1,)]
    fake.advance(30)
    assert h.tick().requests == []
    fake.advance(30)
    fake.set_status(runs[2:], "REJECTED", reviewed=True)
    again = h.tick().requests
    assert [r.partitions for r in again] == [(DAY1,)]
    assert again[0].run_key != first[0].run_key
    fake.advance(30)
    assert h.tick().requests == []


def test_review_of_an_evicted_group_is_found_through_the_run_metadata() -> None:
    fake = FakeExtend()
    h = Harness(fake, policy="settle")
    batch, runs = fake.add_batch(2, DAY2)
    h.submit("run-1", [batch], 2, [DAY2])
    fake.advance(1)
    fake.set_status(runs, "NEEDS_REVIEW")
    h.tick()
    cursor = h.cursor
    cursor.closed[0].batches = []  # as if the batch mapping had been evicted
    h.cursor_json = cursor.to_json()
    fake.advance(10)
    fake.set_status(runs[:1], "PROCESSED", reviewed=True)
    report = h.tick()
    assert [r.partitions for r in report.requests] == [(DAY2,)]
    assert report.get_calls == 1


def test_repeated_tick_from_the_same_cursor_asks_for_the_same_run_keys() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batch, runs = fake.add_batch(10, DAY1)
    h.submit("run-1", [batch], 10, [DAY1])
    h.tick()
    before = h.cursor_json
    fake.advance(5)
    fake.set_status(runs, "PROCESSED")
    first = [r.run_key for r in h.tick(before).requests]
    second = [r.run_key for r in h.tick(before).requests]
    assert first == second and len(first) == 1


def test_errors_keep_the_progress_made_so_far() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batch, _ = fake.add_batch(2500, DAY1)
    h.submit("run-1", [batch], 2500, [DAY1])
    fake.fail_next = 1
    report = h.tick()
    assert report.error and "503" in report.error
    assert h.cursor.open and h.cursor.scan is None
    done_before = fake.calls["list"]

    def fail_second(calls: int) -> None:
        if calls == done_before + 1:
            fake.fail_next = 1
            fake.on_list = None

    fake.on_list = fail_second
    report = h.tick()
    assert report.error and report.runs_changed == 1000
    assert h.cursor.scan is not None and h.cursor.scan.pages == 1
    report = h.tick()
    assert report.error is None and report.runs_changed == 1500 and h.cursor.scan is None


def test_runs_created_one_by_one_are_tracked_by_id() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    _, runs = fake.add_batch(3, DAY1)
    h.submit("run-1", [], 3, [DAY1], run_ids=tuple(runs))
    fake.advance(1)
    fake.set_status(runs[:2], "PROCESSED")
    assert h.tick().requests == []
    assert h.cursor.open[0].direct == [runs[2]]
    fake.advance(1)
    fake.set_status(runs[2:], "FAILED")
    assert len(h.tick().requests) == 1


def test_stuck_runs_are_reported_and_cancelled_only_when_asked() -> None:
    for cancel in (False, True):
        fake = FakeExtend()
        h = Harness(fake, stuck_after_seconds=3600, cancel_stuck=cancel)
        batch, runs = fake.add_batch(5, DAY1)
        h.submit("run-1", [batch], 5, [DAY1])
        fake.advance(1)
        fake.set_status(runs[:3], "PROCESSED")
        fake.set_status(runs[3:], "PROCESSING")
        h.tick()
        fake.advance(4000)
        report = h.tick()
        assert sorted(report.stuck_runs) == sorted(runs[3:])
        assert h.cursor.open[0].stuck == 2
        assert report.cancel_calls == (2 if cancel else 0)
        statuses = {fake.runs[r].status for r in runs[3:]}
        assert statuses == ({"CANCELLED"} if cancel else {"PROCESSING"})


def test_busy_workflow_switches_to_per_batch_confirmation() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batch, runs = fake.add_batch(10, DAY1)
    _, foreign = fake.add_batch(6000, DAY2)  # not ours, same workflow
    h.submit("run-1", [batch], 10, [DAY1])
    h.tick()
    fake.advance(30)
    fake.set_status(foreign, "PROCESSING")
    h.tick()  # learns the change rate
    fake.advance(30)
    fake.set_status(foreign, "PROCESSED")
    fake.set_status(runs, "PROCESSED")
    report = h.tick()
    assert report.mode == "per-batch" and report.list_calls <= 4
    assert len(report.requests) == 1


def test_cursor_stays_small_and_unknown_versions_start_over() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    batches = []
    for _ in range(20):
        batch, _ = fake.add_batch(1000, DAY1)
        batches.append(batch)
    h.submit("run-1", batches, 20_000, [DAY1])
    h.tick()
    assert h.cursor.open[0].expected == 20_000
    assert len(h.cursor_json or "") < 8_000
    assert SensorCursor.from_json('{"version": 999, "open": 5}').open == []
    assert SensorCursor.from_json("not json").open == []
    assert SensorCursor.from_json('{"version": 1, "open": [{"bad": 1}]}').open == []


@pytest.mark.parametrize("policy", ["wait", "settle"])
def test_policy_change_restarts_confirmation(policy: str) -> None:
    cursor = SensorCursor(policy="wait")
    text = cursor.to_json()
    assert SensorCursor.from_json(text, policy).policy == policy
