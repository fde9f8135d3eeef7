"""The ``2026-02-09`` wire shapes of stored runs (reference-2026 §3): WorkflowRun,
WorkflowRunSummary, FileSummary and typed step runs. Nullable keys are always present.

The store keeps one version-neutral record per run (its processor results as
``outputs``); this module renders it as 2026 does: every processor result becomes a
step run (``stepType`` and ``step.type``, ``SPLIT`` for a splitter) whose ``result``
holds an ``extract_run`` / ``classify_run`` / ``split_run``; citations nest their page
as ``{number, width, height}``; usage gains ``totalCredits`` and ``breakdown``.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from extend_assets.emulator.wire import DASHBOARD, timestamp

#: A fixed moment for what the emulator does not version (workflows, processors).
EPOCH = 1735689600.0  # 2025-01-01T00:00:00Z
LETTER = (612.0, 792.0)
#: Stored processor type → (step type, result key, run object, id prefix, processor kind).
KINDS = {
    "EXTRACT": ("EXTRACT", "extractRun", "extract_run", "exr_", "extractor"),
    "CLASSIFY": ("CLASSIFY", "classifyRun", "classify_run", "clr_", "classifier"),
    "SPLITTER": ("SPLIT", "splitRun", "split_run", "splr_", "splitter"),
}
_PROCESSOR_PREFIX = {"extractor": ("ex_", "exv_"), "classifier": ("cl_", "clv_"),
                     "splitter": ("spl_", "splv_")}  # fmt: skip


def _derived(prefix: str, *parts: str, size: int = 22) -> str:
    """A stable id from stable parts (the same run renders the same ids every time)."""
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest()
    return prefix + digest[:size]


def workflow_json(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "workflow",
        "id": run["workflowId"],
        "name": run["workflowName"],
        "createdAt": timestamp(EPOCH),
        "updatedAt": timestamp(EPOCH),
    }


def workflow_version_json(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "workflow_version",
        "id": run["versionId"],
        "version": run["version"],
        "name": None,
        "createdAt": timestamp(EPOCH),
    }


def file_summaries(run: dict[str, Any]) -> list[dict[str, Any]]:
    members = run.get("package") or [{"fileId": run["fileId"], "name": run["name"]}]
    out = []
    for member in members:
        metadata: dict[str, Any] = {}
        if run["pageCount"] is not None and run["fileType"] in ("PDF", "DOCX"):
            metadata["pageCount"] = run["pageCount"]
        out.append(
            {
                "object": "file",
                "id": member["fileId"],
                "name": member["name"],
                "type": run["fileType"],
                "parentFileId": None,
                "metadata": metadata,
                "createdAt": timestamp(run["createdAt"]),
                "updatedAt": timestamp(run["updatedAt"]),
            }
        )
    return out


def dashboard_url(run: dict[str, Any]) -> str:
    return f"{DASHBOARD}/workflows/{run['id']}"


def usage_json(run: dict[str, Any], breakdown: bool = True) -> dict[str, Any] | None:
    if run["credits"] is None:
        return None
    usage: dict[str, Any] = {"credits": run["credits"], "totalCredits": run["credits"]}
    if breakdown:
        usage["breakdown"] = [
            {
                "object": KINDS.get(o["type"], KINDS["EXTRACT"])[2],
                "id": _run_id(o),
                "credits": (o.get("usage") or {}).get("credits", 0.0),
            }
            for o in run["outputs"]
        ]
    return usage


def full_run(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "workflow_run",
        "id": run["id"],
        "workflow": workflow_json(run),
        "workflowVersion": workflow_version_json(run),
        "dashboardUrl": dashboard_url(run),
        "status": run["status"],
        "metadata": dict(run["metadata"] or {}),
        "batchId": run["batchId"],
        "files": file_summaries(run),
        "failureReason": run["failureReason"],
        "failureMessage": run["failureMessage"],
        "initialRunAt": timestamp(run["createdAt"]),
        "reviewedByUser": run["reviewedBy"],
        "reviewed": bool(run["reviewed"]),
        "rejectionNote": run["rejectionNote"],
        "reviewedAt": timestamp(run["reviewedAt"]),
        "startTime": timestamp(run["startTime"]),
        "endTime": timestamp(run["endTime"]),
        "stepRuns": [step_run(run, output) for output in run["outputs"]],
        "usage": usage_json(run),
    }


def summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "workflow_run",
        "id": run["id"],
        "status": run["status"],
        "workflow": workflow_json(run),
        "workflowVersion": workflow_version_json(run),
        "dashboardUrl": dashboard_url(run),
        "files": file_summaries(run),
        "batchId": run["batchId"],
        "createdAt": timestamp(run["createdAt"]),
        "updatedAt": timestamp(run["updatedAt"]),
        "initialRunAt": timestamp(run["createdAt"]),
        "reviewedByUser": run["reviewedBy"],
        "reviewedAt": timestamp(run["reviewedAt"]),
        "startTime": timestamp(run["startTime"]),
        "endTime": timestamp(run["endTime"]),
        "rejectionNote": run["rejectionNote"],
        "usage": usage_json(run, breakdown=False),
    }


def _run_id(output: dict[str, Any]) -> str:
    prefix = KINDS.get(output["type"], KINDS["EXTRACT"])[3]
    return prefix + str(output["id"]).split("_", 1)[-1]


def step_run(run: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    step_type, key, _, _, _ = KINDS.get(output["type"], KINDS["EXTRACT"])
    return {
        "object": "workflow_step_run",
        "id": _derived("workflow_step_run_", run["id"], output["id"]),
        "workflowRunId": run["id"],
        "stepType": step_type,
        "status": output["status"],
        "files": file_summaries(run),
        "step": {
            "object": "workflow_step",
            "id": _derived("step_", run["workflowId"], step_type),
            "name": output["processorName"],
            "type": step_type,
        },
        "result": {key: processor_run(run, output)},
    }


def processor_run(run: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    kind = output["type"]
    _, _, obj, _, processor = KINDS.get(kind, KINDS["EXTRACT"])
    pid_prefix, vid_prefix = _PROCESSOR_PREFIX[processor]
    processor_id = _derived(pid_prefix, run["workflowId"], kind, size=20)
    config = {k: v for k, v in (output.get("config") or {}).items() if k != "type"}
    converted = {
        name: _output(kind, output.get(name))
        for name in ("output", "initialOutput", "reviewedOutput")
    }
    body: dict[str, Any] = {
        "object": obj,
        "id": _run_id(output),
        "status": output["status"],
        **converted,
        "failureReason": output["failureReason"],
        "failureMessage": output["failureMessage"],
        "metadata": output.get("metadata"),
        "reviewed": bool(output["reviewed"]),
        "edited": bool(output["edited"]),
        "config": config,
        processor: {
            "object": processor,
            "id": processor_id,
            "name": output["processorName"],
            "createdAt": timestamp(EPOCH),
            "updatedAt": timestamp(EPOCH),
        },
        processor + "Version": {
            "object": processor + "_version",
            "id": _derived(vid_prefix, run["workflowId"], kind, run["version"], size=20),
            "description": None,
            "version": run["version"],
            processor + "Id": processor_id,
            "createdAt": timestamp(EPOCH),
        },
        "file": file_summaries(run)[0],
        "parseRunId": None,
        "dashboardUrl": f"{DASHBOARD}/runs/{_run_id(output)}",
        "usage": output.get("usage"),
        "createdAt": timestamp(run["startTime"] or run["createdAt"]),
        "updatedAt": timestamp(run["endTime"] or run["updatedAt"]),
    }
    if kind == "EXTRACT":
        body["edits"] = output.get("edits") or None
        body["files"] = file_summaries(run) if run.get("package") else None
    return body


def _output(kind: str, output: Any) -> Any:
    """A stored (2025-shaped) output in 2026 form: nested citation pages, and only the
    ``reasoning`` insights (CLASSIFY and SPLIT outputs are unchanged)."""
    if kind != "EXTRACT" or not isinstance(output, dict):
        return copy.deepcopy(output)
    out = copy.deepcopy(output)
    for entry in (out.get("metadata") or {}).values():
        if not isinstance(entry, dict):
            continue
        entry["citations"] = [_citation(c) for c in entry.get("citations") or []]
        if "insights" in entry:
            entry["insights"] = [i for i in entry["insights"] or [] if i.get("type") == "reasoning"]
    return out


def _citation(citation: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in citation.items() if k not in ("page", "pageWidth", "pageHeight")}
    number = citation.get("page")
    if isinstance(number, int | float):
        out["page"] = {
            "number": number,
            "width": citation.get("pageWidth", LETTER[0]),
            "height": citation.get("pageHeight", LETTER[1]),
        }
    return out
