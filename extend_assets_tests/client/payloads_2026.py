"""2026-02-09 payloads shaped like the reference-2026 examples (§3.1, §3.2, §3.9a)."""

from __future__ import annotations

from typing import Any

from extend_assets_tests.client.payloads import WORKFLOW

VERSION_ID = "workflow_version_Zk9mNP12Qw4-yTv8BdR3H"
STAMP = "2026-04-01T12:00:00.123Z"


def file_summary(
    file_id: str = "file_xK9mLPqRtN3vS8wF5hB2cQ", name: str = "inv.pdf"
) -> dict[str, Any]:
    return {
        "object": "file", "id": file_id, "name": name, "type": "PDF", "parentFileId": None,
        "metadata": {"pageCount": 2}, "createdAt": STAMP, "updatedAt": STAMP,
    }  # fmt: skip


def workflow() -> dict[str, Any]:
    return {"object": "workflow", "id": WORKFLOW, "name": "Invoices",
            "createdAt": "2026-01-05T10:00:00Z", "updatedAt": "2026-03-01T10:00:00Z"}  # fmt: skip


def workflow_version() -> dict[str, Any]:
    return {"object": "workflow_version", "id": VERSION_ID, "version": "3", "name": None,
            "createdAt": "2026-03-01T10:00:00Z"}  # fmt: skip


def run_2026(run_id: str = "workflow_run_xKm9pNv3qWsY_jL2tR5Dh", **fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "object": "workflow_run", "id": run_id, "workflow": workflow(),
        "workflowVersion": workflow_version(),
        "dashboardUrl": f"https://dashboard.extend.ai/workflows/{run_id}",
        "status": "PENDING", "metadata": {}, "batchId": None, "files": [file_summary()],
        "failureReason": None, "failureMessage": None, "initialRunAt": STAMP,
        "reviewedByUser": None, "reviewed": False, "rejectionNote": None, "reviewedAt": None,
        "startTime": None, "endTime": None, "stepRuns": [], "usage": None,
    }  # fmt: skip
    run.update(fields)
    return run


def summary_2026(run_id: str, status: str = "PROCESSED", **fields: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "object": "workflow_run", "id": run_id, "status": status, "workflow": workflow(),
        "workflowVersion": workflow_version(),
        "dashboardUrl": f"https://dashboard.extend.ai/workflows/{run_id}",
        "files": [file_summary()], "createdAt": STAMP, "updatedAt": "2026-04-01T12:05:00Z",
        "initialRunAt": STAMP, "reviewedByUser": None, "reviewedAt": None,
        "startTime": STAMP, "endTime": "2026-04-01T12:05:00Z", "batchId": "batch_7Ws31-F5",
        "rejectionNote": None, "usage": {"credits": 4.0, "totalCredits": 4.0},
    }  # fmt: skip
    summary.update(fields)
    return summary


def extract_step(output: dict[str, Any], step_type: str = "EXTRACT", **run: Any) -> dict[str, Any]:
    extract_run = {
        "object": "extract_run", "id": "exr_1", "status": "PROCESSED", "output": output,
        "initialOutput": None, "reviewedOutput": None, "failureReason": None,
        "failureMessage": None, "metadata": None, "reviewed": False, "edited": False,
        "edits": None, "config": {"schema": {"type": "object"}},
        "extractor": {"object": "extractor", "id": "ex_1", "name": "Invoice",
                      "createdAt": STAMP, "updatedAt": STAMP},
        "extractorVersion": {"object": "extractor_version", "id": "exv_1", "version": "2",
                             "extractorId": "ex_1", "createdAt": STAMP, "description": None},
        "file": file_summary(), "files": None, "parseRunId": "pr_1",
        "dashboardUrl": "https://dashboard.extend.ai/runs/exr_1", "usage": {"credits": 4},
        "createdAt": STAMP, "updatedAt": STAMP,
    }  # fmt: skip
    extract_run.update(run)
    result: dict[str, Any] = {"extractRun": extract_run}
    if step_type == "MERGE_EXTRACT":
        result["mergedExtractors"] = [{"id": "ex_1", "versionId": "exv_1", "name": "Invoice"}]
    return step(step_type, result)


def step(step_type: str, result: Any, step_id: str = "step_1") -> dict[str, Any]:
    return {
        "object": "workflow_step_run", "id": f"workflow_step_run_{step_id}",
        "workflowRunId": "workflow_run_xKm9pNv3qWsY_jL2tR5Dh", "stepType": step_type,
        "status": "PROCESSED", "files": [file_summary()],
        "step": {"object": "workflow_step", "id": step_id, "name": step_type.title(),
                 "type": step_type},
        "result": result,
    }  # fmt: skip
