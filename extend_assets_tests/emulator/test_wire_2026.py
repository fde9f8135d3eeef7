"""The emulator at 2026-02-09 over real HTTP: exact shapes (always-present nullable
keys), per-request version choice, 2026 error bodies and 422 validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from extend_assets.emulator import DEFAULT_API_KEY, SAMPLE_WORKFLOW_ID, EmulatorServer, wire_2026

V2026 = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "x-extend-api-version": "2026-02-09"}
INVOICE = "INVOICE\nInvoice Number: INV-26\nTotal: 1,250.00 EUR\nVendor Name: Acme\n"
RUN_KEYS = {
    "object", "id", "workflow", "workflowVersion", "dashboardUrl", "status", "metadata",
    "batchId", "files", "failureReason", "failureMessage", "initialRunAt", "reviewedByUser",
    "reviewed", "rejectionNote", "reviewedAt", "startTime", "endTime", "stepRuns", "usage",
}  # fmt: skip
SUMMARY_KEYS = {
    "object", "id", "status", "workflow", "workflowVersion", "dashboardUrl", "files",
    "batchId", "createdAt", "updatedAt", "initialRunAt", "reviewedByUser", "reviewedAt",
    "startTime", "endTime", "rejectionNote", "usage",
}  # fmt: skip
ERROR_KEYS = {"code", "message", "retryable", "requestId", "docUrl"}


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


def call(emu: EmulatorServer, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
    return requests.request(
        method, emu.base_url + path, data=data, headers={**V2026, **headers}, timeout=10
    )


def create(emu: EmulatorServer, text: str = INVOICE, **fields: Any) -> dict[str, Any]:
    body = {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": text}, **fields}
    answer = call(emu, "POST", "/workflow_runs", body)
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    return run


def test_a_created_run_is_bare_with_every_nullable_key(emu: EmulatorServer) -> None:
    emu.set_throughput(runs_per_minute=0)
    run = create(emu, metadata={"k": "v"}, priority=5)
    assert set(run) == RUN_KEYS and run["status"] == "PENDING" and run["stepRuns"] == []
    assert run["batchId"] is None and run["usage"] is None and run["reviewedByUser"] is None
    assert run["dashboardUrl"].endswith(run["id"]) and run["metadata"] == {"k": "v"}
    assert run["workflow"]["object"] == "workflow" and "version" not in run["workflow"]
    assert run["workflowVersion"]["version"] == "1" and run["workflowVersion"]["name"] is None
    (file,) = run["files"]
    assert set(file) == {"object", "id", "name", "type", "parentFileId", "metadata",
                         "createdAt", "updatedAt"} and file["name"] == "raw_text.txt"  # fmt: skip


def test_a_processed_run_has_typed_step_runs_nested_citations_and_usage(
    emu: EmulatorServer,
) -> None:
    run_id = create(emu)["id"]
    assert emu.wait_idle(120)
    run = call(emu, "GET", f"/workflow_runs/{run_id}").json()
    assert run["status"] == "PROCESSED"
    classify, extract = run["stepRuns"]
    for step, kind in ((classify, "CLASSIFY"), (extract, "EXTRACT")):
        assert step["stepType"] == step["step"]["type"] == kind
        assert step["object"] == "workflow_step_run" and step["workflowRunId"] == run_id
    extract_run = extract["result"]["extractRun"]
    assert extract_run["object"] == "extract_run" and extract_run["id"].startswith("exr_")
    assert extract_run["extractor"]["id"].startswith("ex_") and extract_run["edits"] is None
    assert "type" not in extract_run["config"] and "schema" in extract_run["config"]
    citation = extract_run["output"]["metadata"]["invoice_number"]["citations"][0]
    assert citation["page"] == {"number": 1, "width": 612.0, "height": 792.0}
    assert "pageWidth" not in citation
    assert classify["result"]["classifyRun"]["output"]["type"] == "invoice"
    usage = run["usage"]
    assert usage["totalCredits"] == usage["credits"] > 0
    assert [b["object"] for b in usage["breakdown"]] == ["classify_run", "extract_run"]
    # The same run asked for in 2025 keeps its 2025 shape.
    old = call(emu, "GET", f"/workflow_runs/{run_id}", **{"x-extend-api-version": "2025-04-21"})
    old_run = old.json()["workflowRun"]
    assert old_run["outputs"][1]["output"]["metadata"]["invoice_number"]["citations"][0][
        "page"] == 1  # fmt: skip
    assert old_run["stepRuns"] == [] and old_run["workflow"]["version"] == "1"


def test_split_steps_render_as_split_and_insights_narrow_to_reasoning() -> None:
    record: dict[str, Any] = {
        "id": "workflow_run_s", "workflowId": "workflow_x", "workflowName": "W", "version": "1",
        "versionId": "workflow_version_x", "status": "PROCESSED", "metadata": {},
        "batchId": None, "fileId": "file_1", "name": "a.pdf", "fileType": "PDF",
        "pageCount": 2, "createdAt": 0.0, "updatedAt": 1.0, "startTime": 0.5, "endTime": 1.0,
        "failureReason": None, "failureMessage": None, "reviewed": False, "reviewedBy": None,
        "reviewedAt": None, "rejectionNote": None, "credits": 1.0, "package": None,
        "outputs": [
            {"id": "dpr_1", "type": "SPLITTER", "processorName": "Splitter", "status": "PROCESSED",
             "output": {"splits": []}, "failureReason": None, "failureMessage": None,
             "reviewed": False, "edited": False, "config": {"type": "SPLITTER"},
             "usage": {"credits": 1.0}},
            {"id": "dpr_2", "type": "EXTRACT", "processorName": "E", "status": "PROCESSED",
             "output": {"value": {}, "metadata": {"a": {"insights": [
                 {"type": "issue", "content": "x"}, {"type": "reasoning", "content": "y"}]}}},
             "failureReason": None, "failureMessage": None, "reviewed": False,
             "edited": False, "config": {}, "usage": {"credits": 0.0}},
        ],
    }  # fmt: skip
    run = wire_2026.full_run(record)
    split, extract = run["stepRuns"]
    assert split["stepType"] == split["step"]["type"] == "SPLIT"
    assert split["result"]["splitRun"]["object"] == "split_run"
    assert split["result"]["splitRun"]["splitter"]["id"].startswith("spl_")
    insights = extract["result"]["extractRun"]["output"]["metadata"]["a"]["insights"]
    assert insights == [{"type": "reasoning", "content": "y"}]
    assert run["files"][0]["metadata"] == {"pageCount": 2}
    assert wire_2026.full_run(record) == run  # ids are stable across renders


def test_batch_list_cancel_delete_envelopes(emu: EmulatorServer) -> None:
    inputs = [
        {"file": {"text": f"Invoice Number: L-{i}\n"}, "metadata": {"i": i}} for i in range(3)
    ]
    answer = call(emu, "POST", "/workflow_runs/batch",
                  {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "inputs": inputs, "priority": 3})  # fmt: skip
    assert answer.status_code == 200 and set(answer.json()) == {"batchId"}
    batch_id = answer.json()["batchId"]
    assert {s["priority"] for s in emu.submissions()} == {3}
    assert emu.wait_idle(120)
    page = call(emu, "GET", f"/workflow_runs?batchId={batch_id}&maxPageSize=2").json()
    assert page["object"] == "list" and len(page["data"]) == 2 and page["nextPageToken"]
    assert set(page["data"][0]) == SUMMARY_KEYS
    assert set(page["data"][0]["usage"]) == {"credits", "totalCredits"}
    last = call(emu, "GET", f"/workflow_runs?batchId={batch_id}&maxPageSize=2"
                f"&nextPageToken={page['nextPageToken']}").json()  # fmt: skip
    assert len(last["data"]) == 1 and last["nextPageToken"] is None
    emu.set_throughput(runs_per_minute=0)
    run_id = create(emu)["id"]
    cancelled = call(emu, "POST", f"/workflow_runs/{run_id}/cancel")
    assert set(cancelled.json()) == RUN_KEYS and cancelled.json()["status"] == "CANCELLING"
    assert call(emu, "DELETE", f"/workflow_runs/{run_id}").json() == {"id": run_id}


def test_2026_packages_run_as_one_run_over_several_files(emu: EmulatorServer) -> None:
    emu.set_throughput(runs_per_minute=0)
    body = {"workflow": {"id": SAMPLE_WORKFLOW_ID},
            "package": {"files": [{"id": "file_a"}, {"url": "https://x/b.pdf", "name": "b.pdf"}]}}  # fmt: skip
    run = call(emu, "POST", "/workflow_runs", body).json()
    assert [f["name"] for f in run["files"]] == ["document", "b.pdf"]
    assert len(emu.submissions()) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"file": {"text": "x"}}, "workflow is required"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}}, "exactly one of file or package"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"url": "u", "id": "f"}},
         "exactly one of url, id or text"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"name": "a"}},
         "exactly one of url, id or text"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": "x"}, "priority": 0},
         "between 1 and 100"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": "x"},
          "metadata": {"a": "x" * 10241}}, "10 KB"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "package": {"files": [{"id": "f"}]}},
         "2 to 50 files"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID},
          "package": {"files": [{"id": "f"}, {"id": "f"}]}}, "duplicate id"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID}, "outputs": [],
          "package": {"files": [{"id": "f"}, {"id": "g"}]}}, "outputs cannot"),
        ({"workflow": {"id": SAMPLE_WORKFLOW_ID},
          "package": {"files": [{"id": "f"}, {"text": "t"}]}}, "not text"),
        ({"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"]}, "workflow is required"),
    ],
)  # fmt: skip
def test_2026_validation_answers_422_with_the_2026_error_body(
    emu: EmulatorServer, body: dict[str, Any], fragment: str
) -> None:
    answer = call(emu, "POST", "/workflow_runs", body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert set(error) == ERROR_KEYS and error["code"] == "INVALID_REQUEST"
    assert error["retryable"] is False and fragment in error["message"]
    assert answer.headers["x-extend-request-id"] == error["requestId"]
    assert emu.submissions() == []


def test_errors_headers_and_removed_endpoint(emu: EmulatorServer) -> None:
    missing = requests.get(f"{emu.base_url}/workflow_runs", timeout=10,
                           headers={"Authorization": V2026["Authorization"]})  # fmt: skip
    assert missing.status_code == 400 and missing.json()["success"] is False
    assert "missing" in missing.json()["error"] and "2026-02-09" in missing.json()["error"]
    unknown = call(emu, "GET", "/workflow_runs", **{"x-extend-api-version": "2030-01-01"})
    assert unknown.status_code == 400 and "2025-04-21 and 2026-02-09" in unknown.json()["error"]
    wrong_key = call(emu, "GET", "/workflow_runs", Authorization="Bearer nope").json()
    assert wrong_key["code"] == "UNAUTHORIZED" and set(wrong_key) == ERROR_KEYS
    assert call(emu, "GET", "/workflow_runs/workflow_run_x").json()["code"] == "NOT_FOUND"
    removed = call(emu, "POST", "/workflow_runs/workflow_run_x/outputs/dpr_1", {})
    assert removed.status_code == 410 and removed.json()["code"] == "ENDPOINT_REMOVED"
    emu.set_faults(rate_limit_burst=1)
    limited = call(emu, "GET", "/workflow_runs")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "RATE_LIMIT_EXCEEDED" and limited.json()["retryable"] is True
    emu.set_faults(error_rate=1.0, error_status=500)
    failed = call(emu, "GET", "/workflow_runs").json()
    assert failed["code"] == "INTERNAL_ERROR" and failed["retryable"] is True
    emu.set_faults(usage_blocked=True)
    blocked = call(emu, "POST", "/workflow_runs",
                   {"workflow": {"id": SAMPLE_WORKFLOW_ID}, "file": {"text": "x"}})  # fmt: skip
    assert blocked.status_code == 402 and blocked.json()["code"] == "USAGE_BLOCKED"
    assert call(emu, "GET", "/workflow_runs").status_code == 200  # reads still work
