"""Typed views of the API's objects, the same whichever API version answered.

The readers of each version (:mod:`extend_assets.client.wire`) map the wire JSON into
these classes, so nothing above the client branches on the version. They are tolerant:
unknown fields are ignored (the wire JSON stays reachable as ``raw``, in the version it
came in), unknown enum values are kept as strings, ``null`` and missing optionals are
the same, and both timestamp forms (``...Z`` and ``...+00:00``) parse.

Neutral vocabulary: a :class:`ProcessorRun` is an extraction, classification or split
result (2025 ``outputs[]``; 2026 ``stepRuns[].result.extractRun|classifyRun|splitRun``);
its ``type`` is ``EXTRACT``, ``CLASSIFY`` or ``SPLITTER`` (2026 ``MERGE_EXTRACT`` and
``CONDITIONAL_EXTRACT`` are ``EXTRACT``, ``SPLIT`` is ``SPLITTER``) and ``step_type``
keeps the wire's own name. A :class:`StepRun` is any step of the run (2025: only the
validation steps; 2026: every step).
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
# The SDK's rule: anything but these ends a wait, so a new status cannot hang a poller.
OPEN_STATUSES = frozenset({"PENDING", "PROCESSING", "CANCELLING"})


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


def text_of(value: Any) -> str | None:
    return None if value is None else str(value)


def mapping_of(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def objects_of(value: Any) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def number_of(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Usage:
    """Credits of a run: ``credits``; 2026 adds ``totalCredits`` and a per-child
    ``breakdown`` (both None/empty on 2025 or on older runs)."""

    credits: float | None
    total_credits: float | None = None
    breakdown: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, value: Any) -> Usage | None:
        if not isinstance(value, Mapping):
            return None
        return cls(
            credits=number_of(value.get("credits")),
            total_credits=number_of(value.get("totalCredits")),
            breakdown=tuple(dict(b) for b in objects_of(value.get("breakdown"))),
        )


@dataclass(frozen=True)
class File:
    id: str
    name: str | None
    type: str | None
    presigned_url: str | None = field(repr=False)  # 2025 only
    parent_file_id: str | None
    page_count: int | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> File:
        pages = mapping_of(data.get("metadata")).get("pageCount")
        return cls(
            id=str(data.get("id") or ""),
            name=text_of(data.get("name")),
            type=text_of(data.get("type")),
            presigned_url=text_of(data.get("presignedUrl")),
            parent_file_id=text_of(data.get("parentFileId")),
            page_count=pages if isinstance(pages, int) and not isinstance(pages, bool) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class ProcessorRun:
    """An extraction, classification or split result of a run (see the module doc)."""

    id: str
    type: str | None
    step_type: str | None
    status: str | None
    processor_id: str | None
    processor_version_id: str | None
    processor_name: str | None
    config: Any
    output: Any
    initial_output: Any
    reviewed_output: Any
    reviewed: bool
    edited: bool
    failure_reason: str | None
    failure_message: str | None
    usage_credits: float | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def final_output(self) -> Any:
        """The reviewed output when there is one, else ``output``, else the initial one."""
        return self.reviewed_output or self.output or self.initial_output

    @classmethod
    def from_wire(
        cls,
        data: Mapping[str, Any],
        *,
        type: str | None,
        step_type: str | None,
        processor_id: str | None,
        processor_version_id: str | None,
        processor_name: str | None,
    ) -> ProcessorRun:
        """The fields both API versions spell alike, read from ``data``; the version's
        reader passes the ones they spell differently (type, processor identity)."""
        return cls(
            id=str(data.get("id") or ""),
            type=type,
            step_type=step_type,
            status=text_of(data.get("status")),
            processor_id=processor_id,
            processor_version_id=processor_version_id,
            processor_name=processor_name,
            config=data.get("config"),
            output=data.get("output"),
            initial_output=data.get("initialOutput"),
            reviewed_output=data.get("reviewedOutput"),
            reviewed=bool(data.get("reviewed")),
            edited=bool(data.get("edited")),
            failure_reason=text_of(data.get("failureReason")),
            failure_message=text_of(data.get("failureMessage")),
            usage_credits=number_of(mapping_of(data.get("usage")).get("credits")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class StepRun:
    """One step of a run. ``result`` is the step's typed result as the wire gave it
    (2025: the step's ``output``); ``processor_run`` is set for extraction,
    classification and split steps; ``rules`` / ``all_passed`` for rule validation."""

    id: str
    step_id: str | None
    step_name: str | None
    step_type: str | None
    status: str | None
    result: Any
    processor_run: ProcessorRun | None
    rules: tuple[dict[str, Any], ...]
    all_passed: bool | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class WorkflowRun:
    """The full run, as ``GET /workflow_runs/{id}`` returns it (either version)."""

    id: str
    status: str
    name: str | None  # 2025 only (2026 runs carry no name)
    workflow_id: str | None
    workflow_name: str | None
    workflow_version: str | None  # the label: "1", "draft"
    workflow_version_id: str | None  # 2026 only
    batch_id: str | None
    metadata: dict[str, Any]
    files: list[File]
    outputs: list[ProcessorRun]
    step_runs: list[StepRun]
    failure_reason: str | None
    failure_message: str | None
    reviewed: bool
    reviewed_by: str | None
    reviewed_at: datetime | None
    rejection_note: str | None
    initial_run_at: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    usage: Usage | None
    url: str | None  # 2025 ``url``, 2026 ``dashboardUrl``
    api_version: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def usage_credits(self) -> float | None:
        return self.usage.credits if self.usage is not None else None

    @property
    def dashboard_url(self) -> str | None:
        return self.url

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
    def from_json(cls, data: Mapping[str, Any], api_version: str | None = None) -> WorkflowRun:
        """Read a run object of either version (``api_version`` None: told by its keys)."""
        from extend_assets.client.wire.detect import reader_for

        run: WorkflowRun = reader_for(data, api_version).run(data)
        return run


@dataclass(frozen=True)
class WorkflowRunSummary:
    """A list item of ``GET /workflow_runs``: no metadata, outputs or failure fields
    (2026 adds the input ``files``)."""

    id: str
    status: str
    workflow_id: str | None
    workflow_name: str | None
    workflow_version: str | None  # 2026 only (the label)
    workflow_version_id: str | None
    batch_id: str | None
    files: list[File]  # 2026 only
    created_at: datetime | None
    updated_at: datetime | None
    initial_run_at: datetime | None
    reviewed_by_user: str | None
    reviewed_at: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    rejection_note: str | None
    usage_credits: float | None
    url: str | None  # 2026 only (``dashboardUrl``)
    api_version: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], api_version: str | None = None
    ) -> WorkflowRunSummary:
        from extend_assets.client.wire.detect import reader_for

        summary: WorkflowRunSummary = reader_for(data, api_version).summary(data)
        return summary


@dataclass(frozen=True)
class WorkflowRunPage:
    runs: list[WorkflowRunSummary]
    next_page_token: str | None
