"""create_and_poll follows the official SDK 1.20 schedule (1 s for 30 s, then x1.15 up
to 30 s, +/-25 % jitter), with an injected clock and sleep: no test waits."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import responses

from extend_assets.client import ExtendClient, PollingSchedule, WaitTimeoutError
from extend_assets_tests.client.payloads import BASE, KEY, WORKFLOW, run_json
from extend_assets_tests.client.payloads_2026 import run_2026
from extend_assets_tests.client.test_api_2026 import FakeTime

RUN = "workflow_run_poll"
EXACT = PollingSchedule(jitter=0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def client_at(version: str, fake_time: FakeTime) -> ExtendClient:
    return ExtendClient(
        KEY,
        base_url=BASE,
        api_version=version,
        requests_per_second=None,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[ExtendClient]:
    with client_at("2026-02-09", fake_time) as c:
        yield c


def test_the_schedule_matches_the_sdk_formula() -> None:
    assert [EXACT.base_delay(t) for t in (0, 10, 29.9)] == [1.0, 1.0, 1.0]
    assert EXACT.base_delay(30) == 1.0
    # 100 s into the backoff phase: n = floor(log(100 * 0.15 + 1) / log(1.15)) = 19
    assert EXACT.base_delay(130) == pytest.approx(1.15**19)
    assert EXACT.base_delay(30 + 1000) == 30.0  # capped
    rng = random.Random(3)
    jittered = PollingSchedule(rng=rng)
    delays = [jittered.delay(5) for _ in range(200)]
    assert min(delays) >= 0.75 and max(delays) <= 1.25 and len(set(delays)) > 100
    with pytest.raises(ValueError, match="multiplier"):
        PollingSchedule(multiplier=0.5)


@responses.activate
def test_create_and_poll_polls_at_once_then_on_the_schedule(
    client: ExtendClient, fake_time: FakeTime
) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026(RUN))
    for _ in range(40):
        responses.get(f"{BASE}/workflow_runs/{RUN}", json=run_2026(RUN, status="PROCESSING"))
    responses.get(f"{BASE}/workflow_runs/{RUN}", json=run_2026(RUN, status="NEEDS_REVIEW"))
    run = client.create_and_poll(WORKFLOW, {"url": "https://s3/a.pdf"}, schedule=EXACT)
    assert run.status == "NEEDS_REVIEW"  # waiting for a human ends the wait, as in the SDK
    assert len(fake_time.slept) == 40 and fake_time.slept[:30] == [1.0] * 30
    assert fake_time.slept[30:] == [EXACT.base_delay(30 + sum(fake_time.slept[30:i]))
                                    for i in range(30, 40)]  # fmt: skip
    assert fake_time.slept[-1] > 1.0


@pytest.mark.parametrize("final", ["REJECTED", "FAILED", "CANCELLED", "PROCESSED", "ARCHIVED"])
@responses.activate
def test_every_status_but_pending_processing_cancelling_ends_the_wait(
    client: ExtendClient, fake_time: FakeTime, final: str
) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026(RUN))
    for status in ("PENDING", "PROCESSING", "CANCELLING", final):
        responses.get(f"{BASE}/workflow_runs/{RUN}", json=run_2026(RUN, status=status))
    assert client.run_and_wait(WORKFLOW, raw_text="x", schedule=EXACT).status == final
    assert fake_time.slept == [1.0, 1.0, 1.0]


@responses.activate
def test_max_wait_clips_the_last_sleep_and_raises(
    client: ExtendClient, fake_time: FakeTime
) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026(RUN))
    responses.get(f"{BASE}/workflow_runs/{RUN}", json=run_2026(RUN, status="PROCESSING"))
    slow = PollingSchedule(fast_interval=3, jitter=0)
    with pytest.raises(WaitTimeoutError, match=f"{RUN} is still PROCESSING after 10 s"):
        client.create_and_poll(WORKFLOW, raw_text="x", max_wait=10, schedule=slow)
    assert fake_time.slept == [3, 3, 3, 1]


@responses.activate
def test_create_and_poll_speaks_2025_too(fake_time: FakeTime) -> None:
    responses.post(f"{BASE}/workflow_runs", json={"success": True, "workflowRuns": [run_json(RUN)]})
    responses.get(f"{BASE}/workflow_runs/{RUN}",
                  json={"success": True, "workflowRun": run_json(RUN, status="PROCESSED")})  # fmt: skip
    with client_at("2025-04-21", fake_time) as old:
        assert old.create_and_poll(WORKFLOW, {"fileId": "file_1"}).status == "PROCESSED"
    assert fake_time.slept == []


def test_create_and_poll_takes_exactly_one_document(client: ExtendClient) -> None:
    with pytest.raises(ValueError, match="exactly one of file, raw_text or package"):
        client.create_and_poll(WORKFLOW, {"url": "https://s3/a"}, raw_text="x")
