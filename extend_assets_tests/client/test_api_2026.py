"""ExtendClient at 2026-02-09 against wire-exact payloads (``responses``): request
builders, response readers, the typed model, error bodies, local validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from extend_assets.client import (
    SUPPORTED_API_VERSIONS,
    ExtendBadRequestError,
    ExtendClient,
    ExtendOutcomeUnknownError,
    ExtendPartialSubmissionError,
    ExtendPaymentRequiredError,
    ExtendRateLimitedError,
    ExtendServerError,
    ExtendUnprocessableError,
    UnsupportedApiVersionError,
    WorkflowRun,
)
from extend_assets_tests.client.payloads import BASE, KEY, WORKFLOW, run_json
from extend_assets_tests.client.payloads_2026 import (
    VERSION_ID,
    extract_step,
    run_2026,
    step,
    summary_2026,
)

V2026 = "2026-02-09"
URL = "https://s3/x.pdf?X-Amz-Signature=abc"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[ExtendClient]:
    with ExtendClient(
        KEY,
        base_url=BASE,
        api_version=V2026,
        requests_per_second=None,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as c:
        yield c


def body_of(call: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(call.request.body)
    return data


def test_versions_are_checked_before_anything_is_sent() -> None:
    assert SUPPORTED_API_VERSIONS == ("2025-04-21", "2026-02-09")
    with pytest.raises(UnsupportedApiVersionError, match="2025-04-21, 2026-02-09"):
        ExtendClient(KEY, base_url=BASE, api_version="2024-12-23")
    assert issubclass(UnsupportedApiVersionError, ValueError)
    with ExtendClient(KEY, base_url=BASE, api_version=V2026) as new, ExtendClient(KEY) as old:
        assert new.supports_batch_priority and not old.supports_batch_priority


@responses.activate
def test_one_post_per_file_with_the_2026_body(client: ExtendClient) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026("workflow_run_a"))
    responses.post(f"{BASE}/workflow_runs", json=run_2026("workflow_run_b"))
    runs = client.run_workflow(
        WORKFLOW,
        files=[{"file_url": URL, "file_name": "x.pdf"}, {"fileId": "file_1"}],
        version="3",
        priority=7,
        metadata={"extend:usage_tags": ["team a!"]},
        secrets={"token": "s"},
    )
    assert [r.id for r in runs] == ["workflow_run_a", "workflow_run_b"]
    assert responses.calls[0].request.headers["x-extend-api-version"] == V2026
    common = {"workflow": {"id": WORKFLOW, "version": "3"}, "priority": 7,
              "metadata": {"extend:usage_tags": ["teama"]}, "secrets": {"token": "s"}}  # fmt: skip
    assert body_of(responses.calls[0]) == {**common, "file": {"url": URL, "name": "x.pdf"}}
    assert body_of(responses.calls[1]) == {**common, "file": {"id": "file_1"}}


@responses.activate
def test_a_failure_after_created_runs_is_a_partial_submission(client: ExtendClient) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026("workflow_run_a"))
    responses.post(f"{BASE}/workflow_runs", status=422,
                   json={"code": "INVALID_REQUEST", "message": "bad file", "retryable": False})  # fmt: skip
    with pytest.raises(ExtendPartialSubmissionError, match="input 2 of 2") as raised:
        client.run_workflow(WORKFLOW, raw_texts=["a", "b"])
    assert isinstance(raised.value, ExtendOutcomeUnknownError)
    assert [r.id for r in raised.value.created_runs] == ["workflow_run_a"]
    assert body_of(responses.calls[0]) == {"workflow": {"id": WORKFLOW}, "file": {"text": "a"}}


@responses.activate
def test_package_batch_and_list_bodies(client: ExtendClient) -> None:
    responses.post(f"{BASE}/workflow_runs", json=run_2026("workflow_run_p"))
    responses.post(f"{BASE}/workflow_runs/batch", json={"batchId": "batch_1"})
    responses.get(f"{BASE}/workflow_runs", json={"object": "list", "nextPageToken": None,
                                                 "data": [summary_2026("workflow_run_s")]})  # fmt: skip
    run = client.run_package(WORKFLOW, [{"url": URL}, {"id": "file_2"}])
    assert run.id == "workflow_run_p"
    assert body_of(responses.calls[0])["package"] == {"files": [{"url": URL}, {"id": "file_2"}]}
    batch = client.batch_run_workflow(
        WORKFLOW, [{"file": {"fileUrl": URL}}, {"rawText": "t", "metadata": {"i": 1}}], priority=5
    )
    assert batch == "batch_1"
    assert body_of(responses.calls[1]) == {
        "workflow": {"id": WORKFLOW},
        "inputs": [{"file": {"url": URL}}, {"file": {"text": "t"}, "metadata": {"i": 1}}],
        "priority": 5,
    }
    (summary,) = client.list_workflow_runs(status="PROCESSED")
    assert summary.workflow_id == WORKFLOW and summary.workflow_version == "3"
    assert summary.workflow_version_id == VERSION_ID and summary.files[0].name == "inv.pdf"
    assert summary.usage_credits == 4.0 and summary.api_version == V2026


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda c: c.run_package(WORKFLOW, [{"url": URL}]), "2 to 50 files"),
        (lambda c: c.run_package(WORKFLOW, [{"url": URL}, {"url": URL}]), "given twice"),
        (lambda c: c.run_package(WORKFLOW, [{"url": URL}, {"text": "t"}]), "not text"),
        (lambda c: c.run_workflow(WORKFLOW, files=[{"url": URL, "id": "f"}]), "not both"),
        (lambda c: c.run_workflow(WORKFLOW, files=[{"fileUrl": URL, "outputs": []}]), "outputs"),
        (lambda c: c.batch_run_workflow(WORKFLOW, [{"rawText": "x"}], priority=101), "1 to 100"),
        (lambda c: c.batch_run_workflow(WORKFLOW, [{"rawText": "x"}] * 1001), "1 to 1000"),
        (lambda c: c.batch_run_workflow(WORKFLOW, []), "1 to 1000"),
        (lambda c: c.run_workflow(WORKFLOW, raw_texts=["x"], metadata={"a": "x" * 10241}), "10240"),
        (
            lambda c: c.run_workflow(
                WORKFLOW, raw_texts=["x"], metadata={"extend:usage_tags": "one"}
            ),
            "list of strings",
        ),
        (lambda c: c.run_workflow(WORKFLOW, files=[{"fileName": "x.pdf"}]), "needs fileUrl"),
    ],
)
@responses.activate
def test_local_validation_sends_nothing(client: ExtendClient, call: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        call(client)
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda c: c.run_package(WORKFLOW, [{"url": URL}, {"id": "f"}]), "needs api_version"),
        (lambda c: c.batch_run_workflow(WORKFLOW, [{"rawText": "x"}], priority=5), "fixed at 90"),
        (lambda c: c.run_workflow(WORKFLOW, raw_texts=["x"], secrets={"s": 1}), "secrets"),
    ],
)
def test_2026_only_features_are_refused_on_2025(call: Any, fragment: str) -> None:
    with (
        ExtendClient(KEY, base_url=BASE, requests_per_second=None) as old,
        pytest.raises(ValueError, match=fragment),
    ):
        call(old)


@responses.activate
def test_a_2026_run_reads_into_the_same_model_as_2025(client: ExtendClient) -> None:
    output = {"value": {"invoice_number": "INV-7"}, "metadata": {}}
    classify = {"classifyRun": {"object": "classify_run", "id": "clr_1", "status": "PROCESSED",
                                "output": {"id": "inv", "type": "invoice", "confidence": 0.9,
                                           "insights": []}, "classifier": {"id": "cl_1"}}}  # fmt: skip
    rules = {"rules": [{"name": "total", "valid": True}], "allPassed": True}
    raw = run_2026(
        status="PROCESSED",
        reviewedByUser="qa@example.com",
        usage={"credits": 6, "totalCredits": 6, "breakdown": [{"object": "extract_run",
                                                               "id": "exr_1", "credits": 4}]},
        stepRuns=[step("CLASSIFY", classify), extract_step(output, "MERGE_EXTRACT"),
                  step("SPLIT", {"splitRun": {"id": "splr_1", "output": {"splits": []}}}),
                  step("RULE_VALIDATION", rules)],
    )  # fmt: skip
    responses.get(f"{BASE}/workflow_runs/workflow_run_x", json=raw)
    run = client.get_workflow_run("workflow_run_x")
    assert run.api_version == V2026 and run.raw == raw
    assert run.workflow_version == "3" and run.workflow_version_id == VERSION_ID
    assert run.reviewed_by == "qa@example.com" and run.url == raw["dashboardUrl"]
    assert run.usage is not None and run.usage.total_credits == 6 and run.usage_credits == 6
    assert [(o.type, o.step_type) for o in run.outputs] == [
        ("CLASSIFY", "CLASSIFY"), ("EXTRACT", "MERGE_EXTRACT"), ("SPLITTER", "SPLIT")]  # fmt: skip
    assert run.outputs[1].final_output == output and run.outputs[1].processor_id == "ex_1"
    assert run.step_runs[3].all_passed is True and run.step_runs[3].rules[0]["name"] == "total"
    assert WorkflowRun.from_json(raw).outputs == run.outputs  # told by its keys
    old = WorkflowRun.from_json(run_json(status="PROCESSED"))
    assert old.api_version == "2025-04-21" and old.workflow_version == "1"


@responses.activate
def test_update_cancel_delete_read_bare_bodies(client: ExtendClient) -> None:
    rid = "workflow_run_u"
    responses.post(f"{BASE}/workflow_runs/{rid}", json=run_2026(rid, metadata={"a": 1}))
    responses.post(f"{BASE}/workflow_runs/{rid}/cancel", json=run_2026(rid, status="CANCELLING"))
    responses.delete(f"{BASE}/workflow_runs/{rid}", json={"id": rid})
    assert client.update_workflow_run(rid, metadata={"a": 1}).metadata == {"a": 1}
    assert client.cancel_workflow_run(rid).status == "CANCELLING"
    assert responses.calls[1].request.body is None
    assert client.delete_workflow_run(rid) == rid


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (402, {"code": "USAGE_BLOCKED", "message": "no credits", "retryable": False,
               "requestId": "req_1", "docUrl": "https://docs/x"}, ExtendPaymentRequiredError,
         "USAGE_BLOCKED"),
        (422, {"code": "INVALID_REQUEST", "message": "file: provide url", "retryable": False},
         ExtendUnprocessableError, "INVALID_REQUEST"),
        (400, {"error": {"code": "INVALID_REQUEST", "message": "nested", "retryable": False}},
         ExtendBadRequestError, "INVALID_REQUEST"),
        (400, {"success": False, "error": "the 2025 shape"}, ExtendBadRequestError, None),
    ],
)  # fmt: skip
@responses.activate
def test_error_bodies_of_both_shapes_become_typed_errors(
    client: ExtendClient, status: int, body: dict[str, Any], kind: type[Exception], code: Any
) -> None:
    responses.get(f"{BASE}/workflow_runs/workflow_run_e", status=status, json=body)
    with pytest.raises(kind) as raised:
        client.get_workflow_run("workflow_run_e")
    error = raised.value
    assert getattr(error, "code", None) == code and getattr(error, "status", None) == status
    assert len(responses.calls) == 1  # none of these is retried
    if status == 402:
        assert error.request_id == "req_1" and "https://docs/x" in str(error)  # type: ignore[attr-defined]
        assert error.retryable is False  # type: ignore[attr-defined]
    assert KEY not in str(error)


@responses.activate
def test_retryable_is_honoured(client: ExtendClient, fake_time: FakeTime) -> None:
    url = f"{BASE}/workflow_runs/workflow_run_r"
    responses.get(url, status=409, json={"code": "CONFLICT", "message": "busy", "retryable": True})
    responses.get(url, json=run_2026("workflow_run_r"))
    assert client.get_workflow_run("workflow_run_r").id == "workflow_run_r"
    assert len(responses.calls) == 2
    responses.get(f"{BASE}/workflow_runs/workflow_run_n", status=503,
                  json={"code": "INTERNAL_ERROR", "message": "down", "retryable": False})  # fmt: skip
    with pytest.raises(ExtendServerError):
        client.get_workflow_run("workflow_run_n")
    assert len(responses.calls) == 3  # retryable: false ends it at once


@responses.activate
def test_posts_that_create_runs_are_retried_only_on_429(client: ExtendClient) -> None:
    limited = {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down", "retryable": True}
    responses.post(f"{BASE}/workflow_runs", status=429, json=limited, headers={"Retry-After": "2"})
    responses.post(f"{BASE}/workflow_runs", json=run_2026("workflow_run_ok"))
    assert client.run_workflow(WORKFLOW, raw_texts=["x"])[0].id == "workflow_run_ok"
    responses.post(f"{BASE}/workflow_runs/batch", status=500,
                   json={"code": "INTERNAL_ERROR", "message": "oops", "retryable": True})  # fmt: skip
    with pytest.raises(ExtendOutcomeUnknownError):
        client.batch_run_workflow(WORKFLOW, [{"rawText": "x"}])
    assert len(responses.calls) == 3
    assert isinstance(ExtendRateLimitedError("x", retry_after=1.0).retry_after, float)
