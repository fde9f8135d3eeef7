"""``2025-04-21`` responses → the typed models: ``{success, workflowRun(s)}`` envelopes,
processor results in ``outputs[]``, validation steps in ``stepRuns[]``."""

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
from extend_assets.client.wire.versions import API_2025


def processor_run(data: Mapping[str, Any]) -> ProcessorRun:
    return ProcessorRun.from_wire(
        data,
        type=text_of(data.get("type")),
        step_type=text_of(data.get("type")),
        processor_id=text_of(data.get("processorId")),
        processor_version_id=text_of(data.get("processorVersionId")),
        processor_name=text_of(data.get("processorName")),
    )


def step_run(data: Mapping[str, Any]) -> StepRun:
    step = mapping_of(data.get("step"))
    output = data.get("output")
    rules = objects_of(mapping_of(output).get("rules"))
    return StepRun(
        id=str(data.get("id") or ""),
        step_id=text_of(step.get("id")),
        step_name=text_of(step.get("name")),
        step_type=text_of(step.get("type")),
        status=text_of(data.get("status")),
        result=output,
        processor_run=None,
        rules=tuple(dict(r) for r in rules),
        all_passed=all(r.get("valid") is True for r in rules) if rules else None,
        raw=dict(data),
    )


def run(data: Mapping[str, Any]) -> WorkflowRun:
    workflow = mapping_of(data.get("workflow"))
    return WorkflowRun(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        name=text_of(data.get("name")),
        workflow_id=text_of(workflow.get("id") or data.get("workflowId")),
        workflow_name=text_of(workflow.get("name") or data.get("workflowName")),
        workflow_version=text_of(workflow.get("version")),
        workflow_version_id=None,
        batch_id=text_of(data.get("batchId")),
        metadata=mapping_of(data.get("metadata")),
        files=[File.from_json(f) for f in objects_of(data.get("files"))],
        outputs=[processor_run(o) for o in objects_of(data.get("outputs"))],
        step_runs=[step_run(s) for s in objects_of(data.get("stepRuns"))],
        failure_reason=text_of(data.get("failureReason")),
        failure_message=text_of(data.get("failureMessage")),
        reviewed=bool(data.get("reviewed")),
        reviewed_by=text_of(data.get("reviewedBy")),
        reviewed_at=parse_datetime(data.get("reviewedAt")),
        rejection_note=text_of(data.get("rejectionNote")),
        initial_run_at=parse_datetime(data.get("initialRunAt")),
        start_time=parse_datetime(data.get("startTime")),
        end_time=parse_datetime(data.get("endTime")),
        usage=Usage.from_json(data.get("usage")),
        url=text_of(data.get("url")),
        api_version=API_2025,
        raw=dict(data),
    )


def summary(data: Mapping[str, Any]) -> WorkflowRunSummary:
    return WorkflowRunSummary(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        workflow_id=text_of(data.get("workflowId")),
        workflow_name=text_of(data.get("workflowName")),
        workflow_version=None,
        workflow_version_id=text_of(data.get("workflowVersionId")),
        batch_id=text_of(data.get("batchId")),
        files=[],
        created_at=parse_datetime(data.get("createdAt")),
        updated_at=parse_datetime(data.get("updatedAt")),
        initial_run_at=parse_datetime(data.get("initialRunAt")),
        reviewed_by_user=text_of(data.get("reviewedByUser")),
        reviewed_at=parse_datetime(data.get("reviewedAt")),
        start_time=parse_datetime(data.get("startTime")),
        end_time=parse_datetime(data.get("endTime")),
        rejection_note=text_of(data.get("rejectionNote")),
        usage_credits=number_of(mapping_of(data.get("usage")).get("credits")),
        url=None,
        api_version=API_2025,
        raw=dict(data),
    )


# -- envelopes ------------------------------------------------------------------------


def created_runs(body: Mapping[str, Any]) -> list[WorkflowRun]:
    runs = body.get("workflowRuns")
    if not isinstance(runs, list):
        raise ExtendOutcomeUnknownError(
            "POST /workflow_runs answered without a workflowRuns list; runs may exist."
        )
    return [run(r) for r in objects_of(runs)]


def one_run(body: Mapping[str, Any], action: str) -> WorkflowRun:
    found = body.get("workflowRun")
    if not isinstance(found, Mapping) or not found.get("id"):
        raise ExtendResponseError(f"{action} answered without a workflowRun object.")
    return run(found)


def page(body: Mapping[str, Any]) -> WorkflowRunPage:
    runs = body.get("workflowRuns")
    if not isinstance(runs, list):
        raise ExtendResponseError("GET /workflow_runs answered without a workflowRuns list.")
    token = body.get("nextPageToken")
    return WorkflowRunPage([summary(r) for r in objects_of(runs)], str(token) if token else None)


def batch_id(body: Mapping[str, Any]) -> str:
    found = body.get("batchId")
    if not isinstance(found, str) or not found:
        raise ExtendOutcomeUnknownError(
            "POST /workflow_runs/batch answered without a batchId; the batch may exist."
        )
    return found


def deleted_id(body: Mapping[str, Any], requested: str) -> str:
    return str(body.get("workflowRunId") or requested)
