"""Payloads shaped exactly like the reference's examples (§2, §3)."""

from __future__ import annotations

from typing import Any

BASE = "https://api.test.extend.ai"
KEY = "sk_live_SECRET_do_not_leak_1234"
WORKFLOW = "workflow_BMdfq_yWM3sT-ZzvCnA3f"


def run_json(run_id: str = "workflow_run_8k9m-xyzAB_cdefGHijk", **fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "object": "workflow_run",
        "id": run_id,
        "name": "invoice.pdf",
        "url": f"https://dashboard.extend.ai/workflows/{WORKFLOW}?workflowRunId={run_id}",
        "status": "PENDING",
        "metadata": {},
        "batchId": None,
        "files": [
            {
                "object": "file",
                "id": "file_Zk9mNP12rStUvWxYz_AbC",
                "name": "invoice.pdf",
                "type": "PDF",
                "presignedUrl": None,
                "parentFileId": None,
                "contents": None,
                "metadata": {"pageCount": None, "parentSplit": None},
                "createdAt": "2025-05-12T21:34:54.455000+00:00",
                "updatedAt": "2025-05-12T21:34:54.455000+00:00",
            }
        ],
        "failureReason": None,
        "failureMessage": None,
        "initialRunAt": "2025-05-12T21:34:54.455000+00:00",
        "reviewedBy": None,
        "reviewed": False,
        "rejectionNote": None,
        "reviewedAt": None,
        "startTime": None,
        "endTime": None,
        "outputs": [],
        "stepRuns": [],
        "workflow": {"object": "workflow", "id": WORKFLOW, "version": "1", "name": "Invoices"},
        "usage": None,
    }
    run.update(fields)
    return run


def summary_json(run_id: str, status: str = "PROCESSED", **fields: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "id": run_id,
        "status": status,
        "workflowId": WORKFLOW,
        "workflowName": "Invoices",
        "workflowVersionId": "workflow_version_Ab12Cd34Ef56Gh78Ij90K",
        "createdAt": "2025-04-28T17:01:39.285Z",
        "updatedAt": "2025-04-28T17:05:00.000Z",
        "initialRunAt": "2025-04-28T17:01:39.285Z",
        "reviewedByUser": None,
        "reviewedAt": None,
        "startTime": "2025-04-28T17:01:40.000Z",
        "endTime": "2025-04-28T17:05:00.000Z",
        "batchId": "batch_kCz2ht2a",
        "rejectionNote": None,
        "usage": {"credits": 2.5},
    }
    summary.update(fields)
    return summary
