"""Errors, retries, rate limiting and redaction, with a fake clock: nothing sleeps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses

from extend_assets.client import (
    AdaptiveRateLimiter,
    ExtendBadRequestError,
    ExtendClient,
    ExtendConnectionError,
    ExtendError,
    ExtendForbiddenError,
    ExtendNotFoundError,
    ExtendOutcomeUnknownError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    ExtendUnauthorizedError,
    WorkflowRun,
    WorkflowRunSummary,
    redact_text,
)
from extend_assets.client.redact import redact_credentials
from extend_assets.client.retry import parse_retry_after
from extend_assets_tests.client.payloads import BASE, KEY, WORKFLOW, run_json, summary_json
from extend_assets_tests.client.test_methods import FakeTime

RID = "workflow_run_r"
GET_URL = f"{BASE}/workflow_runs/{RID}"
OK = {"success": True, "workflowRun": run_json(RID)}


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[ExtendClient]:
    with ExtendClient(
        KEY,
        base_url=BASE,
        requests_per_second=None,
        max_retries=3,
        max_retry_time=120,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "body", "error", "fragments"),
    [
        (
            400,
            {"success": False, "error": "priority: must be 1..100"},
            ExtendBadRequestError,
            ["HTTP 400", "priority: must be 1..100"],
        ),
        (
            401,
            {"success": False, "error": "Invalid API key"},
            ExtendUnauthorizedError,
            ["Invalid API key", "EXTEND_API_KEY"],
        ),
        (403, {"success": False, "error": "Forbidden"}, ExtendForbiddenError, ["workspace_id"]),
        (
            404,
            {"success": False, "error": "Workflow run not found"},
            ExtendNotFoundError,
            [RID, "check the workflow id and version"],
        ),
        (
            422,
            {"code": "INVALID_REQUEST", "message": "bad edit", "requestId": "req_9"},
            ExtendBadRequestError,
            ["bad edit", "req_9"],
        ),
    ],
)
@responses.activate
def test_each_status_has_its_error_with_message_and_hint(
    client: ExtendClient,
    status: int,
    body: dict[str, Any],
    error: type[ExtendError],
    fragments: list[str],
) -> None:
    responses.get(GET_URL, json=body, status=status)
    with pytest.raises(error) as raised:
        client.get_workflow_run(RID)
    for fragment in fragments:
        assert fragment.lower() in str(raised.value).lower()
    assert raised.value.status == status
    assert len(responses.calls) == 1  # client errors are never retried


@responses.activate
def test_unknown_workflow_names_the_workflow(client: ExtendClient) -> None:
    responses.post(
        f"{BASE}/workflow_runs/batch",
        json={"success": False, "error": "Workflow not found"},
        status=404,
    )
    with pytest.raises(ExtendNotFoundError, match=f"workflow {WORKFLOW} version 9"):
        client.batch_run_workflow(WORKFLOW, [{"rawText": "x"}], version="9")


@responses.activate
def test_429_honours_retry_after_seconds_then_succeeds(
    client: ExtendClient, fake_time: FakeTime
) -> None:
    responses.get(
        GET_URL, json={"error": "Too many requests"}, status=429, headers={"Retry-After": "7"}
    )
    responses.get(GET_URL, json=OK)
    assert client.get_workflow_run(RID).id == RID
    (slept,) = fake_time.slept
    assert 7.0 <= slept <= 7.0 + 3.5  # never sooner than asked, jittered by up to half
    assert client.request_count == 2


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=12), usegmt=True)
    assert parse_retry_after(header, now.timestamp()) == pytest.approx(12)
    assert parse_retry_after("soon", now.timestamp()) is None
    assert parse_retry_after(None, 0) is None


@responses.activate
def test_429_without_retry_after_backs_off_exponentially(
    client: ExtendClient, fake_time: FakeTime
) -> None:
    for _ in range(3):
        responses.get(GET_URL, json={"error": "Too many requests"}, status=429)
    responses.get(GET_URL, json=OK)
    client.get_workflow_run(RID)
    assert len(fake_time.slept) == 3
    # Full jitter within [0, ceiling] of 0.5, 1, 2 seconds.
    for delay, ceiling in zip(fake_time.slept, (0.5, 1.0, 2.0), strict=True):
        assert 0 <= delay <= ceiling


@responses.activate
def test_503_then_success_on_a_get(client: ExtendClient) -> None:
    responses.get(GET_URL, body="<html><h1>503 Service Unavailable</h1></html>", status=503)
    responses.get(GET_URL, json=OK)
    assert client.get_workflow_run(RID).id == RID


@responses.activate
def test_connection_reset_is_retried_on_a_get(client: ExtendClient) -> None:
    responses.get(GET_URL, body=requests.ConnectionError("Connection reset by peer"))
    responses.get(GET_URL, json=OK)
    assert client.get_workflow_run(RID).id == RID


@responses.activate
def test_gives_up_after_the_bound_with_the_last_error(
    client: ExtendClient, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(GET_URL, json={"error": "boom"}, status=500)
    with (
        caplog.at_level(logging.WARNING, logger="extend_assets.client"),
        pytest.raises(ExtendServerError, match="gave up after 4 attempt"),
    ):
        client.get_workflow_run(RID)
    assert len(responses.calls) == 4  # 1 + max_retries
    assert sum("retry" in r.message for r in caplog.records) == 3


@responses.activate
def test_total_retry_time_is_bounded(fake_time: FakeTime) -> None:
    responses.get(GET_URL, json={"error": "slow down"}, status=429, headers={"Retry-After": "50"})
    with (
        ExtendClient(
            KEY,
            base_url=BASE,
            requests_per_second=None,
            max_retries=10,
            max_retry_time=120,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        ) as client,
        pytest.raises(ExtendRateLimitedError),
    ):
        client.get_workflow_run(RID)
    assert fake_time.now <= 120
    # 50..75 s per wait: a second retry fits within 120 s only if both waits were short
    assert len(responses.calls) in (2, 3)


@responses.activate
def test_a_post_that_creates_runs_is_not_retried_on_5xx(client: ExtendClient) -> None:
    responses.post(f"{BASE}/workflow_runs/batch", json={"error": "oops"}, status=502)
    with pytest.raises(ExtendOutcomeUnknownError, match="may have created the runs"):
        client.batch_run_workflow(WORKFLOW, [{"rawText": "x"}])
    assert len(responses.calls) == 1


@responses.activate
def test_a_post_that_creates_runs_is_not_retried_after_a_reset(client: ExtendClient) -> None:
    responses.post(f"{BASE}/workflow_runs", body=requests.ConnectionError("Connection reset"))
    with pytest.raises(ExtendOutcomeUnknownError):
        client.run_workflow(WORKFLOW, raw_texts=["x"])
    assert len(responses.calls) == 1


@responses.activate
def test_a_post_that_creates_runs_is_retried_on_429_and_when_never_sent(
    client: ExtendClient,
) -> None:
    url = f"{BASE}/workflow_runs/batch"
    responses.post(
        url, json={"error": "Too many requests"}, status=429, headers={"Retry-After": "1"}
    )
    responses.post(url, body=requests.ConnectTimeout("connect timed out"))
    responses.post(url, json={"success": True, "batchId": "batch_ok000001"})
    assert client.batch_run_workflow(WORKFLOW, [{"rawText": "x"}]) == "batch_ok000001"
    assert len(responses.calls) == 3


@responses.activate
def test_read_timeout_on_get_becomes_a_timeout_error(client: ExtendClient) -> None:
    responses.get(GET_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ExtendTimeoutError, match="no answer within"):
        client.get_workflow_run(RID)
    assert len(responses.calls) == 4


@responses.activate
def test_unreachable_host_is_a_connection_error(client: ExtendClient) -> None:
    responses.get(GET_URL, body=requests.ConnectionError("NewConnectionError: refused"))
    with pytest.raises(ExtendConnectionError, match="could not connect"):
        client.get_workflow_run(RID)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("<html>502 Bad Gateway</html>", "not JSON"),
        ('{"success": true, "workflowRun": {"id": "x"', "not JSON"),
        ('{"success": true}', "without a workflowRun"),
        ('{"success": false, "error": "nope"}', "without success"),
    ],
)
@responses.activate
def test_unusable_answers_are_response_errors(
    client: ExtendClient, body: str, fragment: str
) -> None:
    responses.get(GET_URL, body=body, status=200)
    with pytest.raises(ExtendResponseError, match=fragment):
        client.get_workflow_run(RID)


def test_models_tolerate_unknown_fields_statuses_nulls_and_both_timestamp_forms() -> None:
    run = WorkflowRun.from_json(
        run_json(
            RID,
            status="ARCHIVED",
            brandNewField={"x": 1},
            metadata=None,
            files=None,
            reviewedAt="2025-04-28T17:01:39.285Z",
            startTime="2025-05-12T21:34:54.455000+00:00",
            usage={"credits": 3},
        )
    )
    assert run.status == "ARCHIVED" and not run.is_terminal
    assert run.metadata == {} and run.files == []
    assert run.reviewed_at == datetime(2025, 4, 28, 17, 1, 39, 285000, tzinfo=UTC)
    assert run.start_time is not None and run.start_time.tzinfo is not None
    assert run.usage_credits == 3.0
    assert run.raw["brandNewField"] == {"x": 1}
    summary = WorkflowRunSummary.from_json({"id": "workflow_run_q", "status": "PENDING"})
    assert summary.created_at is None and summary.batch_id is None


def test_the_adaptive_limiter_is_thread_safe() -> None:
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    # A frozen clock: every permit after the first must queue 0.2 s behind the last one.
    limiter = AdaptiveRateLimiter(5, clock=lambda: 0.0, sleep=sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([0.2 * i for i in range(1, 20)])


@responses.activate
def test_the_key_and_presigned_queries_never_leak(
    client: ExtendClient, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Credential=AKIA123&X-Amz-Signature=deadbeef"
    responses.post(
        f"{BASE}/workflow_runs",
        json={"success": False, "error": f"could not fetch {url} with Bearer {KEY}"},
        status=400,
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ExtendBadRequestError) as raised:
        client.run_workflow(WORKFLOW, files=[{"fileUrl": url}])
    text = str(raised.value) + repr(raised.value) + repr(client) + caplog.text
    assert KEY not in text
    assert "deadbeef" not in text and "AKIA123" not in text
    assert "bucket.s3.amazonaws.com/a.pdf" in str(raised.value)


def test_redact_text_handles_keys_bearer_and_signatures() -> None:
    text = f"Bearer {KEY} X-Amz-Signature=abc https://h/p?q=1 {KEY}"
    cleaned = redact_text(text, [KEY])
    assert KEY not in cleaned and "abc" not in cleaned and "q=1" not in cleaned


def test_client_and_landing_zone_share_one_list_of_credential_parameters() -> None:
    text = "failed: sv=2024&sig=azuresig and Key-Pair-Id=K1&Policy=pol outside any URL"
    for cleaned in (redact_text(text), redact_credentials(text)):
        assert "azuresig" not in cleaned and "K1" not in cleaned and "pol " not in cleaned
        assert "sv=2024" in cleaned  # not a credential: kept


def test_missing_key_and_bad_base_url_are_clear() -> None:
    with pytest.raises(ValueError, match="EXTEND_API_KEY"):
        ExtendClient("")
    with pytest.raises(ValueError, match="base_url must start with http"):
        ExtendClient(KEY, base_url="api.extend.ai")


def test_summary_payload_round_trip() -> None:
    summary = WorkflowRunSummary.from_json(summary_json("workflow_run_z", reviewedByUser="a@b.c"))
    assert summary.reviewed_by_user == "a@b.c" and summary.is_terminal
