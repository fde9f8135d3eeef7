"""The emulator over real HTTP on loopback: envelopes, validation, auth, lifecycle, listing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from extend_assets.emulator import DEFAULT_API_KEY, SAMPLE_WORKFLOW_ID, EmulatorServer

HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "x-extend-api-version": "2025-04-21"}
INVOICE = "INVOICE\nInvoice Number: INV-7\nTotal: 1,250.00 EUR\nVendor Name: Acme\n"


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


def call(
    emu: EmulatorServer, method: str, path: str, body: Any = None, **kwargs: Any
) -> requests.Response:
    headers = {**HEADERS, **kwargs.pop("headers", {})}
    data = body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
    return requests.request(
        method, emu.base_url + path, data=data, headers=headers, timeout=10, **kwargs
    )


def create(emu: EmulatorServer, texts: list[str], **fields: Any) -> list[dict[str, Any]]:
    answer = call(
        emu,
        "POST",
        "/workflow_runs",
        {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": texts, **fields},
    )
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["workflowRuns"]
    return runs


def test_create_returns_full_pending_runs_with_explicit_nulls(emu: EmulatorServer) -> None:
    emu.set_throughput(runs_per_minute=0)  # paused: runs stay PENDING
    (run,) = create(emu, [INVOICE], metadata={"k": "v"}, priority=5)
    assert run["object"] == "workflow_run" and run["status"] == "PENDING"
    assert run["id"].startswith("workflow_run_") and len(run["id"]) == len("workflow_run_") + 21
    assert run["outputs"] == [] and run["stepRuns"] == []
    assert run["startTime"] is None and run["endTime"] is None and run["reviewed"] is False
    assert run["failureReason"] is None and run["batchId"] is None
    assert run["metadata"] == {"k": "v"}
    assert run["initialRunAt"].endswith("Z")
    assert run["workflow"] == {
        "object": "workflow", "id": SAMPLE_WORKFLOW_ID, "version": "1",
        "name": "Invoice extraction (sample)",
    }  # fmt: skip
    assert run["files"][0]["object"] == "file" and run["files"][0]["presignedUrl"] is None


def test_processing_extracts_classifies_and_bills(emu: EmulatorServer) -> None:
    (run,) = create(emu, [INVOICE])
    assert emu.wait_idle(120)
    full = call(emu, "GET", f"/workflow_runs/{run['id']}").json()["workflowRun"]
    assert full["status"] == "PROCESSED" and full["startTime"] and full["endTime"]
    kinds = [o["type"] for o in full["outputs"]]
    assert kinds == ["CLASSIFY", "EXTRACT"]
    classify, extract = full["outputs"]
    assert classify["output"]["type"] == "invoice"
    value = extract["output"]["value"]
    assert value["invoice_number"] == "INV-7"
    assert value["total"] == {"amount": 1250.0, "iso_4217_currency_code": "EUR"}
    assert value["vendor"]["name"] == "Acme" and value["vendor"]["email"] is None
    assert extract["output"]["metadata"]["invoice_number"]["logprobsConfidence"] == 0.97
    assert full["usage"]["credits"] > 0


def test_low_confidence_goes_to_review_then_approve_and_reject(emu: EmulatorServer) -> None:
    runs = create(emu, ["Invoice Number: A-1 (?)\n", "Invoice Number: A-2 (?)\n"])
    assert emu.wait_idle(120)
    statuses = {
        r["id"]: call(emu, "GET", f"/workflow_runs/{r['id']}").json()["workflowRun"]["status"]
        for r in runs
    }
    assert set(statuses.values()) == {"NEEDS_REVIEW"}
    approved = emu.approve(
        runs[0]["id"], reviewed_by="qa@example.com", edits={"invoice_number": "A-001"}
    )
    assert (
        approved["status"] == "PROCESSED"
        and approved["reviewed"]
        and approved["reviewedBy"] == "qa@example.com"
    )
    extract = approved["outputs"][1]
    assert extract["edited"] and extract["reviewedOutput"]["value"]["invoice_number"] == "A-001"
    rejected = emu.reject(runs[1]["id"], "not an invoice")
    assert rejected["status"] == "REJECTED" and rejected["rejectionNote"] == "not an invoice"
    summary = call(emu, "GET", f"/workflow_runs?batchId={runs[0]['batchId']}").json()[
        "workflowRuns"
    ]
    assert {s["reviewedByUser"] for s in summary} == {"qa@example.com", "reviewer@example.com"}


def test_batch_then_list_by_batch_with_summaries_only(emu: EmulatorServer) -> None:
    inputs = [{"rawText": f"Invoice Number: B-{i}\n", "metadata": {"i": i}} for i in range(25)]
    answer = call(
        emu, "POST", "/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID, "inputs": inputs}
    )
    assert answer.status_code == 200 and set(answer.json()) == {"success", "batchId"}
    batch = answer.json()["batchId"]
    assert batch.startswith("batch_") and len(batch) == len("batch_") + 8
    seen: list[str] = []
    token = None
    for _ in range(10):
        query = f"/workflow_runs?batchId={batch}&maxPageSize=10&sortBy=createdAt&sortDir=asc"
        page = call(emu, "GET", query + (f"&nextPageToken={token}" if token else "")).json()
        seen += [s["id"] for s in page["workflowRuns"]]
        token = page.get("nextPageToken")
        if token is None:
            assert "nextPageToken" not in page  # absent, not null, on the last page
            break
    assert len(seen) == 25 == len(set(seen))
    item = page["workflowRuns"][0]
    assert "metadata" not in item and "outputs" not in item and "name" not in item
    assert item["workflowVersionId"].startswith("workflow_version_") and item["batchId"] == batch
    assert [s["metadata"]["i"] for s in emu.submissions()] == list(range(25))


def test_list_sorted_by_updated_at_descending_by_default(emu: EmulatorServer) -> None:
    runs = create(emu, ["a", "b", "c"])
    assert emu.wait_idle(120)
    call(emu, "POST", f"/workflow_runs/{runs[0]['id']}", {"name": "touched"})
    listed = call(emu, "GET", "/workflow_runs").json()["workflowRuns"]
    assert listed[0]["id"] == runs[0]["id"]
    stamps = [s["updatedAt"] for s in listed]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps)


def test_update_merges_metadata_shallowly_and_replaces_the_name(emu: EmulatorServer) -> None:
    (run,) = create(emu, ["x"], metadata={"a": 1, "nested": {"x": 1}})
    answer = call(
        emu,
        "POST",
        f"/workflow_runs/{run['id']}",
        {"name": "n2", "metadata": {"b": 2, "nested": {"y": 2}}},
    )
    updated = answer.json()["workflowRun"]
    assert updated["name"] == "n2"
    assert updated["metadata"] == {"a": 1, "b": 2, "nested": {"y": 2}}


def test_cancel_only_while_pending_and_delete_is_final(emu: EmulatorServer) -> None:
    emu.set_throughput(runs_per_minute=0)
    (run,) = create(emu, ["x"])
    cancelling = call(emu, "POST", f"/workflow_runs/{run['id']}/cancel").json()["workflowRun"]
    assert cancelling["status"] == "CANCELLING"  # then CANCELLED, as on Extend
    assert emu.wait_idle(120)
    status = call(emu, "GET", f"/workflow_runs/{run['id']}").json()["workflowRun"]["status"]
    assert status == "CANCELLED"
    again = call(emu, "POST", f"/workflow_runs/{run['id']}/cancel")
    assert again.status_code == 400 and "only PENDING or PROCESSING" in again.json()["error"]
    deleted = call(emu, "DELETE", f"/workflow_runs/{run['id']}").json()
    assert deleted == {
        "success": True,
        "workflowRunId": run["id"],
        "message": "Workflow run data has been successfully deleted.",
    }
    assert call(emu, "GET", f"/workflow_runs/{run['id']}").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/workflow_runs", {"rawTexts": ["x"]}, 400, "workflowId is required"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID}, 400, "exactly one of files or rawTexts"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"], "files": [{"fileUrl": "u"}]}, 400, "exactly one"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "files": [{"fileUrl": "u"}] * 51}, 400, "at most 50"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "files": [{"fileName": "a.pdf"}]}, 400, "files[0]: provide fileUrl or fileId"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"], "priority": 0}, 400, "priority"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"], "priority": 101}, 400, "priority"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"], "metadata": {"k": "v" * 10300}}, 400, "10 KB"),
        ("/workflow_runs", {"workflowId": "workflow_nope", "rawTexts": ["x"]}, 404, "workflow_nope"),
        ("/workflow_runs", {"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"], "version": "7"}, 404, "Version '7'"),
        ("/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID, "inputs": []}, 400, "between 1 and 1000"),
        ("/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID, "inputs": [{"rawText": "x"}] * 1001}, 400, "between 1 and 1000"),
        ("/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID, "inputs": [{"metadata": {}}]}, 400, "inputs[0]: provide exactly one of file or rawText"),
        ("/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID, "inputs": [{"file": {}}]}, 400, "inputs[0].file: provide fileUrl or fileId"),
        ("/workflow_runs/batch", "{not json", 400, "not valid JSON"),
    ],
)  # fmt: skip
def test_validation_names_the_field(
    emu: EmulatorServer, path: str, body: Any, status: int, fragment: str
) -> None:
    answer = call(emu, "POST", path, body)
    assert answer.status_code == status
    assert answer.json()["success"] is False
    assert fragment in answer.json()["error"]
    assert emu.submissions() == []


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("maxPageSize=0", "maxPageSize must be from 1 to 1000"),
        ("maxPageSize=1001", "maxPageSize must be from 1 to 1000"),
        ("sortBy=name", "sortBy must be updatedAt or createdAt"),
        ("sortDir=up", "sortDir must be asc or desc"),
        ("status=DONE", "status must be one of"),
        ("nextPageToken=garbage", "nextPageToken"),
    ],
)
def test_list_validation(emu: EmulatorServer, query: str, fragment: str) -> None:
    answer = call(emu, "GET", f"/workflow_runs?{query}")
    assert answer.status_code == 400 and fragment in answer.json()["error"]


def test_auth_and_version_header(emu: EmulatorServer) -> None:
    wrong_key = call(emu, "GET", "/workflow_runs", headers={"Authorization": "Bearer nope"})
    assert wrong_key.status_code == 401 and wrong_key.json() == {
        "success": False,
        "error": "Unauthorized: the API key is missing or not valid; send it as a Bearer token in the Authorization header.",
    }
    wrong_version = call(
        emu, "GET", "/workflow_runs", headers={"x-extend-api-version": "2024-12-23"}
    )
    assert wrong_version.status_code == 400 and "2025-04-21" in wrong_version.json()["error"]
    assert emu.counters()["GET /workflow_runs"] == 2


def test_faults_5xx_429_and_late_answers(emu: EmulatorServer) -> None:
    emu.set_faults(rate_limit_burst=2)
    assert [call(emu, "GET", "/workflow_runs").status_code for _ in range(3)] == [429, 429, 200]
    limited = call(emu, "GET", "/workflow_runs")  # burst spent
    assert limited.status_code == 200
    emu.set_faults(error_rate=1.0, error_status=502, html_errors=True)
    page = call(emu, "GET", "/workflow_runs")
    assert page.status_code == 502 and page.text.startswith("<html>")
    emu.set_faults(slow_after_commit_seconds=1.0)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            emu.base_url + "/workflow_runs",
            json={"workflowId": SAMPLE_WORKFLOW_ID, "rawTexts": ["x"]},
            headers=HEADERS,
            timeout=0.3,
        )
    assert len(emu.submissions()) == 1  # committed although the client never heard back
    emu.clear_faults()
    counters = emu.counters()
    assert counters["429"] == 2 and counters["5xx"] == 1


def test_dropped_connections(emu: EmulatorServer) -> None:
    emu.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        call(emu, "GET", "/workflow_runs")
    emu.clear_faults()
    assert call(emu, "GET", "/workflow_runs").status_code == 200


def test_server_side_rate_limit(emu: EmulatorServer) -> None:
    with EmulatorServer(port=0, requests_per_second=2) as limited:
        codes = [call(limited, "GET", "/workflow_runs").status_code for _ in range(6)]
    assert codes.count(429) >= 3
    answer_headers = None
    with EmulatorServer(port=0, requests_per_second=1) as limited:
        for _ in range(3):
            answer = call(limited, "GET", "/workflow_runs")
            if answer.status_code == 429:
                answer_headers = answer.headers
    assert answer_headers is not None and answer_headers["Retry-After"] == "1"


def test_queue_order_is_priority_then_age(tmp_path: Any) -> None:
    with EmulatorServer(port=0, workers=1, runs_per_minute=0) as emu:
        batch = call(emu, "POST", "/workflow_runs/batch", {"workflowId": SAMPLE_WORKFLOW_ID,
                     "inputs": [{"rawText": "batch-1"}, {"rawText": "batch-2"}]})  # fmt: skip
        assert batch.status_code == 200
        urgent = create(emu, ["urgent"], priority=10)[0]["id"]
        normal = create(emu, ["normal"])[0]["id"]  # default priority 50
        emu.set_throughput(runs_per_minute=None)
        assert emu.wait_idle(120)
        runs = sorted(emu.runs(), key=lambda r: r["startTime"])
    order = [r["id"] for r in runs]
    assert order[:2] == [urgent, normal]  # the two batch runs (priority 90) come last


def test_throughput_limit_keeps_runs_pending_without_429() -> None:
    with EmulatorServer(port=0, runs_per_minute=2) as emu:
        create(emu, ["a", "b", "c", "d", "e"])
        deadline = time.monotonic() + 120  # a hang guard, not a speed check
        while (
            time.monotonic() < deadline and sum(r["status"] == "PROCESSED" for r in emu.runs()) < 2
        ):
            time.sleep(0.05)
        statuses = [r["status"] for r in emu.runs()]
        assert statuses.count("PROCESSED") == 2 and statuses.count("PENDING") == 3
        assert "429" not in emu.counters()


def test_injected_run_failures(emu: EmulatorServer) -> None:
    emu.set_faults(fail_rate=1.0)
    (run,) = create(emu, [INVOICE])
    assert emu.wait_idle(120)
    full = call(emu, "GET", f"/workflow_runs/{run['id']}").json()["workflowRun"]
    assert full["status"] == "FAILED" and full["failureReason"] == "INTERNAL_ERROR"
