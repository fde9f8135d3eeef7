"""RunStatusPoller against an in-memory Extend: settling, costs, budget, reviews, errors."""

from __future__ import annotations

import json
import math
import random

import pytest

from extend_assets.sensing import (
    PollerSettings,
    RunStatusPoller,
    SubmittedGroup,
    TickReport,
)
from extend_assets.sensing.cursor import CURSOR_VERSION, OpenGroup, SensorCursor
from extend_assets.sensing.model import TERMINAL
from extend_assets_tests.sensing.fakes import FakeExtend

DAY1, DAY2 = "2025-01-01", "2025-01-02"


class Harness:
    """Ticks a poller the way the sensor does: cursor JSON in, cursor JSON out."""

    def __init__(self, fake: FakeExtend, policy: str = "wait", **settings: float) -> None:
        self.fake = fake
        self.policy = policy
        self.settings = PollerSettings(workflow_id="wf", review_policy=policy, **settings)  # type: ignore[arg-type]
        self.cursor_json: str | None = None
        self.requests: list[str] = []
        self.pending: list[SubmittedGroup] = []

    def submit(
        self,
        group_id: str,
        batches: list[str],
        expected: int,
        partitions: list[str],
        run_ids: tuple[str, ...] = (),
    ) -> None:
        self.pending.append(
            SubmittedGroup(
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
    # The change rate seen so far predicts a costly scan and one run is left: the tick
    # confirms per batch instead, 2 batches x 4 unsettled statuses.
    assert report.mode == "per-batch" and report.list_calls == 2 * 4
    for _ in range(3):
        fake.advance(30)
        assert h.tick().requests == []
    assert len(h.requests) == 1
    assert h.cursor.open == [] and len(h.cursor.closed) == 1


def test_settled_groups_are_confirmed_with_one_call_per_status_in_all() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    everything = []
    for number in range(3):
        batches = []
        for _ in range(4):
            batch, runs = fake.add_batch(50, DAY1)
            batches.append(batch)
            everything += runs
        h.submit(f"run-{number}", batches, 200, [DAY1])
    h.tick()
    fake.advance(30)
    fake.set_status(everything, "PROCESSED")
    report = h.tick()
    read = report.runs_changed + report.overlap_rereads
    assert report.mode == "scan" and len(report.requests) == 3
    # 3 groups x 4 batches x 4 statuses would be 48 calls; the workflow as a whole: 4
    assert report.list_calls <= scan_bound(read) + 4


def test_a_settled_group_beside_an_open_one_is_confirmed_batch_by_batch() -> None:
    fake = FakeExtend()
    h = Harness(fake)
    done_batch, done_runs = fake.add_batch(20, DAY1)
    open_batch, _ = fake.add_batch(20, DAY2)
    h.submit("done", [done_batch], 20, [DAY1])
    h.submit("open", [open_batch], 20, [DAY2])
    h.tick()
    fake.advance(30)
    fake.set_status(done_runs, "PROCESSED")
    report = h.tick()
    assert [r.partitions for r in report.requests] == [(DAY1,)]
    assert [g.id for g in h.cursor.open] == ["open"]


class CheckedPoller(RunStatusPoller):
    """Fails the test if a group closes while one of its runs is unsettled on the server."""

    def __init__(self, fake: FakeExtend, cursor: SensorCursor, settings: PollerSettings) -> None:
        super().__init__(fake, cursor, settings, lambda: fake.now)
        self.fake = fake

    def _close(self, group: OpenGroup) -> None:
        unsettled = [
            run.id
            for batch in group.batches
            for run in self.fake.by_batch[batch]
            if run.status not in TERMINAL
        ]
        assert not unsettled, f"{group.id} closed with {len(unsettled)} run(s) unsettled"
        super()._close(group)


def test_a_workflow_wide_answer_older_than_a_groups_last_check_is_asked_again() -> None:
    """G1 learns "no run is PROCESSING"; then G2's last PENDING run starts PROCESSING and
    G2's PENDING check comes back empty. The old answer must not close G2."""
    fake = FakeExtend()
    h = Harness(fake)
    g1_batch, g1_runs = fake.add_batch(2, DAY1)
    g2_batch, (done, late) = fake.add_batch(2, DAY2)
    h.submit("g1", [g1_batch], 2, [DAY1])
    h.submit("g2", [g2_batch], 2, [DAY2])
    h.tick()
    fake.advance(30)
    fake.set_status([done], "PROCESSED")
    h.tick()
    fake.advance(30)
    fake.set_status(g1_runs, "PROCESSED")  # g1 settles in the same tick as
    fake.touch([done])  # g2's estimate says 2 of 2: `done` is sighted again

    def start_late_run(call: dict[str, object]) -> None:
        if call["batch_id"] == g2_batch and call["status"] == "PENDING":
            fake.set_status([late], "PROCESSING")

    fake.before_list = start_late_run
    cursor = SensorCursor.from_json(h.cursor_json)
    poller = CheckedPoller(fake, cursor, h.settings)
    report = poller.tick()
    assert report.error is None
    assert [r.partitions for r in report.requests] == [(DAY1,)]
    assert [g.id for g in cursor.open] == ["g2"]


def test_an_answer_from_before_a_groups_earlier_check_in_the_same_tick_is_not_reused() -> None:
    """Before the scan g2 (due by the safety net) finds PENDING empty only after g1 learned
    "no run is PROCESSING", then finds its last run PROCESSING. After the scan g2 looks
    settled; the old workflow-wide answer must not close it."""
    fake = FakeExtend()
    b1, g1_runs = fake.add_batch(2, DAY1)
    b2, (late, done) = fake.add_batch(2, DAY2)
    fake.advance(50)
    fake.set_status(g1_runs, "PROCESSED")
    fake.set_status([done], "PROCESSED")
    fake.advance(50)
    now = fake.now
    g1 = OpenGroup("g1", [DAY1], [b1], 2, start=now - 200, wm=now - 60,
                   counts={"PROCESSED": 2}, last_confirm=now - 1, last_change=now)  # fmt: skip
    g2 = OpenGroup("g2", [DAY2], [b2], 2, start=now - 200, wm=now - 60,
                   counts={"PROCESSED": 1}, last_confirm=now - 601, last_change=now)  # fmt: skip
    cursor = SensorCursor(open=[g1, g2], wm=now - 60, wm_rechecked=True)

    def start_late_run(call: dict[str, object]) -> None:
        if call["batch_id"] == b2 and call["status"] == "PENDING":
            fake.set_status([late], "PROCESSING")

    fake.before_list = start_late_run
    poller = CheckedPoller(fake, cursor, PollerSettings(workflow_id="wf"))
    report = poller.tick()
    assert report.error is None and report.mode == "scan"
    assert [r.partitions for r in report.requests] == [(DAY1,)]
    (left,) = cursor.open
    assert left.id == "g2" and poller.settled_estimate(left) >= 2  # it looked settled


@pytest.mark.parametrize("seed", range(12))
def test_no_group_closes_early_while_runs_move_between_confirmation_calls(seed: int) -> None:
    """Runs move on during the calls of a tick and settled runs are touched again (which
    inflates the estimates): confirmation must still never close a group early."""
    rng = random.Random(seed)
    fake = FakeExtend()
    submissions = []
    for number in range(3):
        batches = []
        for _ in range(3):
            batch, _ = fake.add_batch(4, DAY1)
            batches.append(batch)
        submissions.append(SubmittedGroup(f"g{number}", (DAY1,), tuple(batches), (), 12, fake.now))
    step = {"PENDING": "PROCESSING", "PROCESSING": "PROCESSED"}

    def move(_: int) -> None:
        fake.advance(0.01)
        everyone = list(fake.runs.values())
        movable = [r for r in everyone if r.status in step]
        if movable and rng.random() < 0.6:
            run = rng.choice(movable)
            fake.set_status([run.id], step[run.status])
        settled = [r for r in everyone if r.status == "PROCESSED"]
        if settled and rng.random() < 0.5:
            fake.touch([rng.choice(settled).id])  # a metadata update: sighted again

    fake.on_list = move
    settings = PollerSettings(workflow_id="wf", confirm_retry_seconds=0.0)
    cursor_json: str | None = None
    for _ in range(200):
        cursor = SensorCursor.from_json(cursor_json)
        poller = CheckedPoller(fake, cursor, settings)
        if poller.accepts_submissions and submissions:
            poller.add_submissions(submissions)
            submissions = []
        poller.tick()
        cursor_json = cursor.to_json()
        fake.advance(1)
        if not SensorCursor.from_json(cursor_json).open:
            break
    assert SensorCursor.from_json(cursor_json).open == []


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
    bad_group = json.dumps({"version": CURSOR_VERSION, "open": [{"bad": 1}]})
    assert SensorCursor.from_json(bad_group).open == []


@pytest.mark.parametrize("policy", ["wait", "settle"])
def test_policy_change_restarts_confirmation(policy: str) -> None:
    cursor = SensorCursor(policy="wait")
    text = cursor.to_json()
    assert SensorCursor.from_json(text, policy).policy == policy
