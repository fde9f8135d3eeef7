"""The ``2025-04-21`` wire shapes of stored runs (reference §3): full WorkflowRun and
WorkflowRunSummary; also the ids and timestamps both versions share."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
DASHBOARD = "https://dashboard.extend.ai"


def nanoid(size: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(size))


def new_id(prefix: str) -> str:
    sizes = {"workflow_run_": 21, "batch_": 8, "file_": 21, "dpr_": 20, "event_": 21}
    return prefix + nanoid(sizes.get(prefix, 21))


def timestamp(epoch: float | None) -> str | None:
    """RFC 3339 UTC with milliseconds and ``Z``, as the docs show."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def full_run(run: dict[str, Any]) -> dict[str, Any]:
    """The stored run as ``GET /workflow_runs/{id}`` answers it."""
    return {
        "object": "workflow_run",
        "id": run["id"],
        "name": run["name"],
        "url": f"{DASHBOARD}/workflows/{run['workflowId']}?workflowRunId={run['id']}",
        "status": run["status"],
        "metadata": dict(run["metadata"] or {}),
        "batchId": run["batchId"],
        "files": [file_json(run)],
        "failureReason": run["failureReason"],
        "failureMessage": run["failureMessage"],
        "initialRunAt": timestamp(run["createdAt"]),
        "reviewedBy": run["reviewedBy"],
        "reviewed": bool(run["reviewed"]),
        "rejectionNote": run["rejectionNote"],
        "reviewedAt": timestamp(run["reviewedAt"]),
        "startTime": timestamp(run["startTime"]),
        "endTime": timestamp(run["endTime"]),
        "outputs": list(run["outputs"]),
        "stepRuns": [],
        "workflow": {
            "object": "workflow",
            "id": run["workflowId"],
            "version": run["version"],
            "name": run["workflowName"],
        },
        "usage": {"credits": run["credits"]} if run["credits"] is not None else None,
    }


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A list item: no name, url, metadata, files, outputs or failure fields."""
    return {
        "id": run["id"],
        "status": run["status"],
        "workflowId": run["workflowId"],
        "workflowName": run["workflowName"],
        "workflowVersionId": run["versionId"],
        "batchId": run["batchId"],
        "createdAt": timestamp(run["createdAt"]),
        "updatedAt": timestamp(run["updatedAt"]),
        "initialRunAt": timestamp(run["createdAt"]),
        "reviewedByUser": run["reviewedBy"],
        "reviewedAt": timestamp(run["reviewedAt"]),
        "startTime": timestamp(run["startTime"]),
        "endTime": timestamp(run["endTime"]),
        "rejectionNote": run["rejectionNote"],
        "usage": {"credits": run["credits"]} if run["credits"] is not None else None,
    }


def file_json(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "file",
        "id": run["fileId"],
        "name": run["name"],
        "type": run["fileType"],
        "presignedUrl": None,
        "parentFileId": None,
        "contents": None,
        "metadata": {"pageCount": run["pageCount"], "parentSplit": None},
        "createdAt": timestamp(run["createdAt"]),
        "updatedAt": timestamp(run["updatedAt"]),
    }


def processor_run(
    kind: str,
    name: str,
    output: Any,
    config: dict[str, Any],
    run: dict[str, Any],
    credits: float,
) -> dict[str, Any]:
    dpr = new_id("dpr_")
    return {
        "object": "document_processor_run",
        "id": dpr,
        "processorId": "dp_" + nanoid(20),
        "processorVersionId": "dpv_" + nanoid(20),
        "processorName": name,
        "status": "PROCESSED",
        "output": output,
        "initialOutput": output,
        "reviewedOutput": None,
        "failureReason": None,
        "failureMessage": None,
        "metadata": None,
        "reviewed": False,
        "edited": False,
        "edits": {},
        "type": kind,
        "config": config,
        "files": [file_json(run)],
        "mergedProcessors": [],
        "url": f"{DASHBOARD}/runs/{dpr}",
        "usage": {"credits": credits},
    }
