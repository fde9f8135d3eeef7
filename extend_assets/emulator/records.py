"""The emulator's stored records: a new run as Extend creates it, and the submission log entry."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from extend_assets.emulator import wire
from extend_assets.emulator.config import Workflow


def new_run_record(
    item: Mapping[str, Any],
    workflow: Workflow,
    version: str,
    *,
    seq: int,
    now: float,
    batch_id: str | None,
    priority: int,
) -> dict[str, Any]:
    """A PENDING run for one input: ``{"file": ...}``, ``{"rawText", "name"?}`` or
    ``{"package": [file, ...]}`` (one run over several files), with ``metadata``."""
    package = [
        {"fileUrl": member.get("fileUrl"), "inputFileId": member.get("fileId"),
         "fileId": wire.new_id("file_"),
         "name": member.get("fileName") or name_from_url(member.get("fileUrl")) or "document"}
        for member in item.get("package") or []
    ]  # fmt: skip
    file = item.get("file") or (package[0] if package else {})
    name = file.get("fileName") or name_from_url(file.get("fileUrl"))
    if item.get("rawText") is not None:
        name = item.get("name") or name or "raw_text.txt"
    return {
        "id": wire.new_id("workflow_run_"),
        "seq": seq,
        "name": name or "document",
        "workflowId": workflow.id,
        "workflowName": workflow.name,
        "version": version,
        "versionId": workflow.version_id(version),
        "status": "PENDING",
        "metadata": copy.deepcopy(dict(item.get("metadata") or {})),
        "batchId": batch_id,
        "priority": priority,
        "fileUrl": file.get("fileUrl"),
        "inputFileId": file.get("fileId"),
        "rawText": item.get("rawText"),
        "fileId": package[0]["fileId"] if package else wire.new_id("file_"),
        "package": package or None,
        "fileType": "TXT" if item.get("rawText") is not None else None,
        "pageCount": None,
        "createdAt": now,
        "updatedAt": now,
        "startTime": None,
        "endTime": None,
        "failureReason": None,
        "failureMessage": None,
        "reviewed": False,
        "reviewedBy": None,
        "reviewedAt": None,
        "rejectionNote": None,
        "outputs": [],
        "credits": None,
    }


def submission_record(run: Mapping[str, Any], batch_id: str | None) -> dict[str, Any]:
    """What the control API reports of one created run (tests count POSTs from these)."""
    return {
        "runId": run["id"],
        "batchId": batch_id,
        "workflowId": run["workflowId"],
        "version": run["version"],
        "fileName": run["name"],
        "metadata": copy.deepcopy(run["metadata"]),
        "priority": run["priority"],
        "createdAt": wire.timestamp(run["createdAt"]),
        "rawText": run["rawText"] is not None,
    }


def name_from_url(url: Any) -> str | None:
    """The file name at the end of a URL's path (its query, e.g. a presigned signature, dropped)."""
    if not isinstance(url, str) or not url:
        return None
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) or None
