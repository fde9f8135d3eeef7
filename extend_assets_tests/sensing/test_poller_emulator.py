"""The sensor against the real emulator over HTTP (loopback): settling, costs, reviews, errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions, RunRequest, build_sensor_context
from dagster._core.definitions.sensor_definition import SensorExecutionData
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from extend_assets.emulator import EmulatorServer
from extend_assets.resources import ExtendResource
from extend_assets.sensing import PollerSettings, RunStatusPoller, SubmittedGroup
from extend_assets.sensing.cursor import SensorCursor
from extend_assets_tests.ports import free_port
from extend_assets_tests.sensing.dagster_fixtures import make_defs, submit

WORKFLOW = "workflow_sampleInvoices0000000"
LIST = "GET /workflow_runs"


def text(number: int, review: bool = False) -> str:
    mark = " (?)" if review else ""
    return f"Invoice\nInvoice Number: INV-{number}{mark}\n"


def inputs(
    partition: str, numbers: range, review: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    return [
        {
            "rawText": text(n, n in review),
            "metadata": {
                "source_id": f"doc-{n}",
                "partition": partition,
                "extend_assets_submission": "sub_test",
            },
        }
        for n in numbers
    ]


class Clock:
    """The sensor's clock: real time is never slept on; tests move it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.step = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


def resource_for(emu: EmulatorServer) -> ExtendResource:
    return ExtendResource(api_key=emu.api_key, base_url=emu.base_url, requests_per_second=1000)


def lists(emu: EmulatorServer) -> int:
    return int(emu.counters().get(LIST, 0))


def tick(
    defs: Definitions, instance: DagsterInstance, resource: Any, cursor: str | None
) -> SensorExecutionData:
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"extend": resource}, definitions=defs
    )
    return defs.get_sensor_def("t_sensor").evaluate_tick(context)


def statuses(emu: EmulatorServer, batch: str) -> dict[str, int]:
    with resource_for(emu).get_client() as client:
        counts: dict[str, int] = {}
        for run in client.list_workflow_runs(batch_id=batch, page_size=1000):
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts


def test_wait_policy_requests_the_range_once_after_review(emu: EmulatorServer) -> None:
    clock = Clock()
    defs = make_defs(clock, workflow_id=WORKFLOW, review_policy="wait")
    resource = resource_for(emu)
    with DagsterInstance.ephemeral() as instance, resource.get_client() as client:
        days = ["2025-01-10", "2025-01-11"]
        batch = client.batch_run_workflow(
            WORKFLOW, inputs(days[0], range(6), review=frozenset({5}))
        )
        emu.wait_idle(120)
        submit(instance, days, [batch], 6, _server_now(client, batch))
        first = tick(defs, instance, resource, None)
        assert not first.run_requests
        assert {str(e.partition) for e in first.asset_events} == set(days)
        review = [r.id for r in client.list_workflow_runs(batch_id=batch, status="NEEDS_REVIEW")]
        assert len(review) == 1
        clock.now += 700  # past the safety-net confirmation: still waiting for the review
        second = tick(defs, instance, resource, first.cursor)
        assert not second.run_requests
        emu.approve(review[0], reviewed_by="qa@example.com")
        emu.wait_idle(120)
        clock.now += 30
        third = tick(defs, instance, resource, second.cursor)
        (request,) = third.run_requests or []
        assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == days[0]
        assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == days[1]
        clock.now += 30
        assert not tick(defs, instance, resource, third.cursor).run_requests
        # the closing tick repeated from its input cursor asks for the same key
        again = tick(defs, instance, resource, second.cursor)
        assert [r.run_key for r in again.run_requests or []] == [request.run_key]


def test_settle_policy_rerequests_after_a_late_review(emu: EmulatorServer) -> None:
    clock = Clock()
    defs = make_defs(clock, workflow_id=WORKFLOW, review_policy="settle")
    resource = resource_for(emu)
    with DagsterInstance.ephemeral() as instance, resource.get_client() as client:
        day = "2025-01-12"
        batch = client.batch_run_workflow(WORKFLOW, inputs(day, range(4), review=frozenset({0, 1})))
        emu.wait_idle(120)
        submit(instance, [day], [batch], 4, _server_now(client, batch))
        first = tick(defs, instance, resource, None)
        (initial,) = first.run_requests or []
        assert initial.partition_key == day
        review = [r.id for r in client.list_workflow_runs(batch_id=batch, status="NEEDS_REVIEW")]
        emu.approve(review[0], reviewed_by="qa@example.com")
        emu.reject(review[1], "not an invoice")
        emu.wait_idle(120)
        clock.now += 30
        second = tick(defs, instance, resource, first.cursor)
        (again,) = second.run_requests or []
        assert again.partition_key == day and again.run_key != initial.run_key
        clock.now += 30
        assert not tick(defs, instance, resource, second.cursor).run_requests


def test_list_calls_follow_the_changed_runs(emu: EmulatorServer) -> None:
    """A scan costs ceil(runs read / 1000) + 1 list calls; confirmation adds one per status."""
    with resource_for(emu).get_client() as client:
        batches = [
            client.batch_run_workflow(WORKFLOW, inputs("2025-01-13", range(i, i + 600)))
            for i in (0, 600)
        ]
        emu.wait_idle(120)
        started = _server_now(client, batches[0])
        cursor = SensorCursor()
        settings = PollerSettings(workflow_id=WORKFLOW)
        clock = Clock()
        poller = RunStatusPoller(client, cursor, settings, clock)
        poller.add_submissions(
            [SubmittedGroup("g", ("2025-01-13",), tuple(batches), (), 1200, started)]
        )
        before = lists(emu)
        report = poller.tick()
        read = report.runs_changed + report.overlap_rereads
        assert report.runs_changed == 1200
        assert lists(emu) - before == report.list_calls
        # one scan (2 pages + the boundary) and the exact confirmation: no run of the
        # workflow in any of the 4 unsettled statuses, one call each
        assert report.list_calls <= math.ceil(read / 1000) + 1 + 4
        assert [r.partitions for r in report.requests] == [("2025-01-13",)]
        # nothing changed: a tick costs at most the one page of the overlap guard
        for _ in range(2):
            clock.now += 30
            before = lists(emu)
            quiet = RunStatusPoller(client, cursor, settings, clock).tick()
            assert lists(emu) - before == quiet.list_calls <= 1


def test_exhausted_budget_resumes_next_tick(emu: EmulatorServer) -> None:
    clock = Clock()
    defs = make_defs(clock, workflow_id=WORKFLOW, tick_budget_seconds=20)
    resource = resource_for(emu)
    with DagsterInstance.ephemeral() as instance, resource.get_client() as client:
        day = "2025-01-14"
        batches = [
            client.batch_run_workflow(WORKFLOW, inputs(day, range(i, i + 1000)))
            for i in (0, 1000, 2000)
        ]
        emu.wait_idle(60)
        submit(instance, [day], batches, 3000, _server_now(client, batches[0]))
        clock.step = 7.0  # every look at the clock costs 7 s: the budget runs out mid-scan
        cursor: str | None = None
        requests: list[RunRequest] = []
        out_of_budget = 0
        for _ in range(40):
            result = tick(defs, instance, resource, cursor)
            requests.extend(result.run_requests or [])
            out_of_budget += '"scan":{' in (result.cursor or "")
            cursor = result.cursor
            if requests and '"open":[]' in (cursor or ""):
                break
        assert out_of_budget >= 1  # at least one tick stopped mid-scan and resumed
        assert len(requests) == 1 and requests[0].partition_key == day
        parsed = SensorCursor.from_json(cursor)
        assert parsed.open == [] and parsed.scan is None


def test_server_errors_and_a_stopped_server_keep_the_cursor(emu: EmulatorServer) -> None:
    clock = Clock()
    defs = make_defs(clock, workflow_id=WORKFLOW)
    resource = resource_for(emu)
    with DagsterInstance.ephemeral() as instance, resource.get_client() as client:
        day = "2025-01-15"
        batch = client.batch_run_workflow(WORKFLOW, inputs(day, range(3), review=frozenset({2})))
        submit(instance, [day], [batch], 3, _server_now(client, batch))
        emu.wait_idle(120)
        first = tick(defs, instance, resource, None)
        assert not first.run_requests
        dead = ExtendResource(
            api_key=emu.api_key, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0
        )
        clock.now += 30
        failed = tick(defs, instance, dead, first.cursor)
        assert failed.skip_message and "did not answer" in failed.skip_message
        kept = SensorCursor.from_json(failed.cursor)
        assert kept.failed_ticks == 1  # counted, so that N in a row fail the tick
        kept.failed_ticks = 0
        assert kept == SensorCursor.from_json(first.cursor)
        (review,) = client.list_workflow_runs(batch_id=batch, status="NEEDS_REVIEW")
        emu.approve(review.id, reviewed_by="qa@example.com")
        emu.wait_idle(120)
        clock.now += 30
        result = tick(defs, instance, resource, failed.cursor)
        assert [r.partition_key for r in result.run_requests or []] == [day]


def _server_now(client: Any, batch: str) -> float:
    """The submitter records its clock just before the POST; here: the batch's creation."""
    runs = list(client.list_workflow_runs(batch_id=batch, page_size=1000))
    return min(run.created_at.timestamp() for run in runs) - 1.0
