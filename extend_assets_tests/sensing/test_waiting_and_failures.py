"""A tick that waits names the runs, how long and the fix; auth errors fail the tick at
once, transient ones after N in a row (the count lives in the cursor)."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, build_sensor_context
from dagster._core.definitions.sensor_definition import SensorExecutionData

from extend_assets.client import ExtendUnauthorizedError
from extend_assets.sensing import PollerSettings, RunStatusPoller, SensorCursor, SubmittedGroup
from extend_assets.sensor_builder import waiting_message
from extend_assets_tests.sensing.dagster_fixtures import ClientResource, make_defs, submit
from extend_assets_tests.sensing.fakes import FakeExtend

DAY = "2025-01-05"


def _tick(fake: FakeExtend, cursor: SensorCursor, policy: str = "wait") -> RunStatusPoller:
    settings = PollerSettings(workflow_id="wf", review_policy=policy)  # type: ignore[arg-type]
    poller = RunStatusPoller(fake, cursor, settings, lambda: fake.now)
    poller.tick()
    return poller


def _group(batch: str, expected: int, at: float) -> SubmittedGroup:
    return SubmittedGroup("g1", (DAY,), (batch,), (), expected, at)


def test_a_stalled_tick_names_the_run_in_review_its_age_and_the_fix() -> None:
    fake = FakeExtend()
    batch, ids = fake.add_batch(3, DAY)
    cursor = SensorCursor(policy="wait")
    poller = RunStatusPoller(fake, cursor, PollerSettings(workflow_id="wf"), lambda: fake.now)
    poller.add_submissions([_group(batch, 3, fake.now)])
    fake.advance(5)
    fake.set_status(ids[:2], "PROCESSED")
    fake.set_status(ids[2:], "NEEDS_REVIEW")
    first = _tick(fake, cursor)
    assert first.report.runs_changed == 3 and not first.report.waiting  # progress: no naming
    fake.advance(1800)
    stalled = _tick(fake, cursor)
    assert not stalled.report.requests
    (waiting,) = stalled.report.waiting
    assert (waiting.id, waiting.status, waiting.batch_id) == (ids[2], "NEEDS_REVIEW", batch)
    assert waiting.waiting_seconds == pytest.approx(1800)
    message = waiting_message(stalled.report, "wait", "http://127.0.0.1:8787")
    assert f"{ids[2]} NEEDS_REVIEW for 30 min" in message
    assert f"extend-assets review approve {ids[2]} --base-url http://127.0.0.1:8787" in message
    assert "EXTEND_REVIEW_POLICY=settle" in message
    on_extend = waiting_message(stalled.report, "wait", "https://api.extend.ai")
    assert "dashboard" in on_extend and "extend-assets review" not in on_extend


def test_a_stalled_tick_names_runs_still_processing() -> None:
    fake = FakeExtend()
    batch, ids = fake.add_batch(2, DAY)
    cursor = SensorCursor(policy="settle")
    poller = RunStatusPoller(
        fake, cursor, PollerSettings(workflow_id="wf", review_policy="settle"), lambda: fake.now
    )
    poller.add_submissions([_group(batch, 2, fake.now)])
    fake.advance(5)
    fake.set_status(ids[:1], "PROCESSED")
    fake.set_status(ids[1:], "PROCESSING")
    _tick(fake, cursor, "settle")
    fake.advance(90)
    _tick(fake, cursor, "settle")  # re-reads the overlap below the watermark once
    fake.advance(90)
    stalled = _tick(fake, cursor, "settle")
    assert [(w.id, w.status) for w in stalled.report.waiting] == [(ids[1], "PROCESSING")]
    assert "still processing" in waiting_message(stalled.report, "settle", None)


def _evaluate(
    fake: FakeExtend, instance: DagsterInstance, cursor: str | None, **kwargs: object
) -> SensorExecutionData:
    defs = make_defs(lambda: fake.now, **kwargs)
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"extend": ClientResource(fake)},
        definitions=defs,
    )
    return defs.get_sensor_def("t_sensor").evaluate_tick(context)


def test_an_auth_error_fails_the_tick_with_the_fix() -> None:
    fake = FakeExtend()
    batch, _ = fake.add_batch(2, DAY)

    def unauthorized() -> None:
        raise ExtendUnauthorizedError("HTTP 401: Unauthorized", status=401)

    fake._maybe_fail = unauthorized  # type: ignore[method-assign]
    with DagsterInstance.ephemeral() as instance:
        submit(instance, [DAY], [batch], 2, fake.now)
        with pytest.raises(Exception, match="EXTEND_API_KEY") as raised:
            _evaluate(fake, instance, None)
    assert "401" in str(raised.value)


def test_transient_errors_skip_then_fail_the_tick_after_n_in_a_row() -> None:
    fake = FakeExtend()
    batch, ids = fake.add_batch(2, DAY)
    with DagsterInstance.ephemeral() as instance:
        submit(instance, [DAY], [batch], 2, fake.now)
        fake.fail_next = 100
        cursor = None
        for count in (1, 2):
            result = _evaluate(fake, instance, cursor, max_failed_ticks=3)
            assert result.skip_message and f"{count} tick(s) in a row" in result.skip_message
            cursor = result.cursor
        with pytest.raises(Exception, match="did not answer 3 sensor ticks in a row"):
            _evaluate(fake, instance, cursor, max_failed_ticks=3)
        # Extend answers again: the count starts over and the group settles
        fake.fail_next = 0
        fake.advance(5)
        fake.set_status(ids, "PROCESSED")
        result = _evaluate(fake, instance, cursor, max_failed_ticks=3)
        assert result.run_requests
        assert SensorCursor.from_json(result.cursor).failed_ticks == 0


def test_the_ui_shows_a_stalled_tick_with_the_waiting_run() -> None:
    fake = FakeExtend()
    batch, ids = fake.add_batch(2, DAY)
    with DagsterInstance.ephemeral() as instance:
        submit(instance, [DAY], [batch], 2, fake.now)
        fake.advance(5)
        fake.set_status(ids[:1], "PROCESSED")
        fake.set_status(ids[1:], "NEEDS_REVIEW")
        cursor = None
        skip = None
        for _ in range(4):  # progress first, then the overlap re-read, then a stall
            fake.advance(60)
            result = _evaluate(fake, instance, cursor)
            cursor, skip = result.cursor, result.skip_message
            if skip and "NEEDS_REVIEW" in skip:
                break
    assert skip is not None and f"{ids[1]} NEEDS_REVIEW" in skip
    assert "review_policy='settle'" in skip
