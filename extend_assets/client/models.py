"""Typed views of the API's objects, tolerant of what the API may add or leave out.

Unknown fields are ignored (the raw JSON stays reachable as ``raw``), unknown enum
values are kept as strings, ``null`` and missing optionals are the same, and both
timestamp forms (``...Z`` and ``...+00:00``) parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class WorkflowRunStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    REJECTED = "REJECTED"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"


# Where polling stops (NEEDS_REVIEW included: it waits for a human, not for Extend).
TERMINAL_STATUSES = frozenset({"PROCESSED", "FAILED", "CANCELLED", "NEEDS_REVIEW", "REJECTED"})


def parse_datetime(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _credits(value: Any) -> float | None:
    if isinstance(value, Mapping):
        found = value.get("credits")
        return float(found) if isinstance(found, int | float) else None
    return None


@dataclass(frozen=True)
class File:
    id: str
    name: str | None
    type: str | None
    presigned_url: str | None = field(repr=False)
    parent_file_id: str | None
    page_count: int | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> File:
        meta = _mapping(data.get("metadata"))
        pages = meta.get("pageCount")
        return cls(
            id=str(data.get("id") or ""),
            name=_str(data.get("name")),
            type=_str(data.get("type")),
            presigned_url=_str(data.get("presignedUrl")),
            parent_file_id=_str(data.get("parentFileId")),
            page_count=int(pages) if isinstance(pages, int) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class ProcessorRun:
    """One document-processor step of a run (EXTRACT, CLASSIFY or SPLITTER)."""

    id: str
    type: str | None
    status: str | None
    processor_name: str | None
    output: Any
    initial_output: Any
    reviewed_output: Any
    reviewed: bool
    edited: bool
    failure_reason: str | None
    failure_message: str | None
    usage_credits: float | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessorRun:
        return cls(
            id=str(data.get("id") or ""),
            type=_str(data.get("type")),
            status=_str(data.get("status")),
            processor_name=_str(data.get("processorName")),
            output=data.get("output"),
            initial_output=data.get("initialOutput"),
            reviewed_output=data.get("reviewedOutput"),
            reviewed=bool(data.get("reviewed")),
            edited=bool(data.get("edited")),
            failure_reason=_str(data.get("failureReason")),
            failure_message=_str(data.get("failureMessage")),
            usage_credits=_credits(data.get("usage")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WorkflowRun:
    """The full run, as ``GET /workflow_runs/{id}`` returns it."""

    id: str
    status: str
    name: str | None
    workflow_id: str | None
    workflow_name: str | None
    workflow_version: str | None
    batch_id: str | None
    metadata: dict[str, Any]
    files: list[File]
    outputs: list[ProcessorRun]
    step_runs: list[dict[str, Any]]
    failure_reason: str | None
    failure_message: str | None
    reviewed: bool
    reviewed_by: str | None
    reviewed_at: datetime | None
    rejection_note: str | None
    initial_run_at: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    usage_credits: float | None
    url: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def created_at(self) -> datetime | None:
        return self.initial_run_at

    @property
    def updated_at(self) -> datetime | None:
        """Full runs carry no ``updatedAt``; the latest of their own timestamps stands in."""
        stamps = [t for t in (self.reviewed_at, self.end_time, self.start_time) if t]
        return max(stamps) if stamps else self.initial_run_at

    def get(self, key: str, default: Any = None) -> Any:
        """Read a raw field by its wire name (``run.get("failureReason")``)."""
        return self.raw.get(key, default)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowRun:
        workflow = _mapping(data.get("workflow"))
        files = data.get("files")
        outputs = data.get("outputs")
        steps = data.get("stepRuns")
        return cls(
            id=str(data.get("id") or ""),
            status=str(data.get("status") or ""),
            name=_str(data.get("name")),
            workflow_id=_str(workflow.get("id") or data.get("workflowId")),
            workflow_name=_str(workflow.get("name") or data.get("workflowName")),
            workflow_version=_str(workflow.get("version")),
            batch_id=_str(data.get("batchId")),
            metadata=_mapping(data.get("metadata")),
            files=[File.from_json(f) for f in _objects(files)],
            outputs=[ProcessorRun.from_json(o) for o in _objects(outputs)],
            step_runs=[dict(s) for s in _objects(steps)],
            failure_reason=_str(data.get("failureReason")),
            failure_message=_str(data.get("failureMessage")),
            reviewed=bool(data.get("reviewed")),
            reviewed_by=_str(data.get("reviewedBy")),
            reviewed_at=parse_datetime(data.get("reviewedAt")),
            rejection_note=_str(data.get("rejectionNote")),
            initial_run_at=parse_datetime(data.get("initialRunAt")),
            start_time=parse_datetime(data.get("startTime")),
            end_time=parse_datetime(data.get("endTime")),
            usage_credits=_credits(data.get("usage")),
            url=_str(data.get("url")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WorkflowRunSummary:
    """A list item of ``GET /workflow_runs``: no metadata, outputs or files."""

    id: str
    status: str
    workflow_id: str | None
    workflow_name: str | None
    workflow_version_id: str | None
    batch_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    initial_run_at: datetime | None
    reviewed_by_user: str | None
    reviewed_at: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    rejection_note: str | None
    usage_credits: float | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowRunSummary:
        return cls(
            id=str(data.get("id") or ""),
            status=str(data.get("status") or ""),
            workflow_id=_str(data.get("workflowId")),
            workflow_name=_str(data.get("workflowName")),
            workflow_version_id=_str(data.get("workflowVersionId")),
            batch_id=_str(data.get("batchId")),
            created_at=parse_datetime(data.get("createdAt")),
            updated_at=parse_datetime(data.get("updatedAt")),
            initial_run_at=parse_datetime(data.get("initialRunAt")),
            reviewed_by_user=_str(data.get("reviewedByUser")),
            reviewed_at=parse_datetime(data.get("reviewedAt")),
            start_time=parse_datetime(data.get("startTime")),
            end_time=parse_datetime(data.get("endTime")),
            rejection_note=_str(data.get("rejectionNote")),
            usage_credits=_credits(data.get("usage")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class WorkflowRunPage:
    runs: list[WorkflowRunSummary]
    next_page_token: str | None


def _objects(value: Any) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]
