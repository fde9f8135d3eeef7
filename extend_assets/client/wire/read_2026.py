"""``2026-02-09`` responses → the typed models: bare resources, the list envelope
``{object: "list", data, nextPageToken}``, and every step (processor results included)
in ``stepRuns[]`` with a typed ``result``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extend_assets.client.errors import ExtendOutcomeUnknownError, ExtendResponseError
from extend_assets.client.models import (
    File,
    ProcessorRun,
    StepRun,
    Usage,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowRunSummary,
    mapping_of,
    number_of,
    objects_of,
    parse_datetime,
    text_of,
)
from extend_assets.client.wire.read_2025 import batch_id as batch_id  # same in both versions
from extend_assets.client.wire.versions import API_2026

#: Step type → (key of its processor run in ``result``, the neutral processor type).
PROCESSOR_STEPS = {
    "EXTRACT": ("extractRun", "EXTRACT"),
    "MERGE_EXTRACT": ("extractRun", "EXTRACT"),
    "CONDITIONAL_EXTRACT": ("extractRun", "EXTRACT"),
    "CLASSIFY": ("classifyRun", "CLASSIFY"),
    "SPLIT": ("splitRun", "SPLITTER"),
}
#: The versioned processor summary of each kind of run: (processor key, version key).
_PROCESSOR_KEYS = {
    "extractRun": ("extractor", "extractorVersion"),
    "classifyRun": ("classifier", "classifierVersion"),
    "splitRun": ("splitter", "splitterVersion"),
}


def processor_run(data: Mapping[str, Any], kind: str, step_type: str | None) -> ProcessorRun:
    """An ``extract_run`` / ``classify_run`` / ``split_run`` (``kind`` its result key)."""
    processor_key, version_key = _PROCESSOR_KEYS[kind]
    processor = mapping_of(data.get(processor_key))
    version = mapping_of(data.get(version_key))
    return ProcessorRun.from_wire(
        data,
        type={"extractRun": "EXTRACT", "classifyRun": "CLASSIFY"}.get(kind, "SPLITTER"),
        step_type=step_type,
        processor_id=text_of(processor.get("id")),
        processor_version_id=text_of(version.get("id")),
        processor_name=text_of(processor.get("name")),
    )


def step_run(data: Mapping[str, Any]) -> StepRun:
    step = mapping_of(data.get("step"))
    step_type = text_of(data.get("stepType") or step.get("type"))
    result = data.get("result")
    body = mapping_of(result)
    found: ProcessorRun | None = None
    key = PROCESSOR_STEPS.get(step_type or "", (None, None))[0]
    if key is None:  # an unknown step type: go by what the result holds
        key = next((k for k in _PROCESSOR_KEYS if isinstance(body.get(k), Mapping)), None)
    if key is not None and isinstance(body.get(key), Mapping):
        found = processor_run(body[key], key, step_type)
    rules = objects_of(body.get("rules"))
    all_passed = body.get("allPassed")
    return StepRun(
        id=str(data.get("id") or ""),
        step_id=text_of(step.get("id")),
        step_name=text_of(step.get("name")),
        step_type=step_type,
        status=text_of(data.get("status")),
        result=result,
        processor_run=found,
        rules=tuple(dict(r) for r in rules),
        all_passed=all_passed if isinstance(all_passed, bool) else None,
        raw=dict(data),
    )


def run(data: Mapping[str, Any]) -> WorkflowRun:
    workflow = mapping_of(data.get("workflow"))
    version = mapping_of(data.get("workflowVersion"))
    steps = [step_run(s) for s in objects_of(data.get("stepRuns"))]
    return WorkflowRun(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        name=text_of(data.get("name")),
        workflow_id=text_of(workflow.get("id")),
        workflow_name=text_of(workflow.get("name")),
        workflow_version=text_of(version.get("version")),
        workflow_version_id=text_of(version.get("id")),
        batch_id=text_of(data.get("batchId")),
        metadata=mapping_of(data.get("metadata")),
        files=[File.from_json(f) for f in objects_of(data.get("files"))],
        outputs=[s.processor_run for s in steps if s.processor_run is not None],
        step_runs=steps,
        failure_reason=text_of(data.get("failureReason")),
        failure_message=text_of(data.get("failureMessage")),
        reviewed=bool(data.get("reviewed")),
        reviewed_by=text_of(data.get("reviewedByUser")),
        reviewed_at=parse_datetime(data.get("reviewedAt")),
        rejection_note=text_of(data.get("rejectionNote")),
        initial_run_at=parse_datetime(data.get("initialRunAt")),
        start_time=parse_datetime(data.get("startTime")),
        end_time=parse_datetime(data.get("endTime")),
        usage=Usage.from_json(data.get("usage")),
        url=text_of(data.get("dashboardUrl")),
        api_version=API_2026,
        raw=dict(data),
    )


def summary(data: Mapping[str, Any]) -> WorkflowRunSummary:
    workflow = mapping_of(data.get("workflow"))
    version = mapping_of(data.get("workflowVersion"))
    return WorkflowRunSummary(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        workflow_id=text_of(workflow.get("id")),
        workflow_name=text_of(workflow.get("name")),
        workflow_version=text_of(version.get("version")),
        workflow_version_id=text_of(version.get("id")),
        batch_id=text_of(data.get("batchId")),
        files=[File.from_json(f) for f in objects_of(data.get("files"))],
        created_at=parse_datetime(data.get("createdAt")),
        updated_at=parse_datetime(data.get("updatedAt")),
        initial_run_at=parse_datetime(data.get("initialRunAt")),
        reviewed_by_user=text_of(data.get("reviewedByUser")),
        reviewed_at=parse_datetime(data.get("reviewedAt")),
        start_time=parse_datetime(data.get("startTime")),
        end_time=parse_datetime(data.get("endTime")),
        rejection_note=text_of(data.get("rejectionNote")),
        usage_credits=number_of(mapping_of(data.get("usage")).get("credits")),
        url=text_of(data.get("dashboardUrl")),
        api_version=API_2026,
        raw=dict(data),
    )


# -- envelopes (bare resources; a legacy ``success`` wrapper is tolerated) -------------


def _resource(body: Mapping[str, Any]) -> Mapping[str, Any]:
    wrapped = body.get("workflowRun")
    return wrapped if isinstance(wrapped, Mapping) else body


def created_runs(body: Mapping[str, Any]) -> list[WorkflowRun]:
    found = _resource(body)
    if not found.get("id"):
        raise ExtendOutcomeUnknownError(
            "POST /workflow_runs answered without a workflow run; a run may exist."
        )
    return [run(found)]


def one_run(body: Mapping[str, Any], action: str) -> WorkflowRun:
    found = _resource(body)
    if not found.get("id") or found.get("object", "workflow_run") != "workflow_run":
        raise ExtendResponseError(f"{action} answered without a workflow_run object.")
    return run(found)


def page(body: Mapping[str, Any]) -> WorkflowRunPage:
    data = body.get("data")
    if not isinstance(data, list):
        raise ExtendResponseError(
            'GET /workflow_runs answered without {"object": "list", "data": [...]}.'
        )
    token = body.get("nextPageToken")
    return WorkflowRunPage([summary(r) for r in objects_of(data)], str(token) if token else None)


def deleted_id(body: Mapping[str, Any], requested: str) -> str:
    return str(body.get("id") or requested)
