"""What the run-status poller reads, reports and is configured with: values and protocols."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from extend_assets.client import ReviewPolicy
from extend_assets.sensing.cursor import SensorCursor

TERMINAL = ("PROCESSED", "FAILED", "REJECTED", "CANCELLED")
IN_FLIGHT = ("PENDING", "PROCESSING", "CANCELLING")
NEEDS_REVIEW = "NEEDS_REVIEW"
# Order matters: runs only move forward through these, so a (batch, status) pair found
# empty stays empty and confirmation can resume where it stopped.
CONFIRM_ORDER_WAIT = ("PENDING", "PROCESSING", "CANCELLING", NEEDS_REVIEW)
CONFIRM_ORDER_SETTLE = ("PENDING", "PROCESSING", "CANCELLING")
PAGE_SIZE = 1000


class RunSummaryLike(Protocol):
    id: str
    status: str
    batch_id: str | None
    updated_at: datetime
    reviewed_at: datetime | None


class PageLike(Protocol):
    @property
    def runs(self) -> Sequence[Any]: ...

    @property
    def next_page_token(self) -> str | None: ...


class StatusClient(Protocol):
    """The part of :class:`~extend_assets.client.ExtendClient` the poller uses."""

    def list_workflow_runs_page(
        self,
        status: str | None = None,
        workflow_id: str | None = None,
        batch_id: str | None = None,
        file_name_contains: str | None = None,
        sort_by: str | None = None,
        sort_dir: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> Any: ...

    def get_workflow_run(self, workflow_run_id: str) -> Any: ...

    def cancel_workflow_run(self, workflow_run_id: str) -> Any: ...


@dataclass(frozen=True)
class SubmittedGroup:
    """What one Dagster run submitted, as read from the submission ledger: one group."""

    group_id: str
    partitions: tuple[str, ...]
    batch_ids: tuple[str, ...]
    run_ids: tuple[str, ...]
    expected: int
    submitted_at: float
    batch_partitions: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionRequest:
    """Ask for the downstream run of ``partitions``; ``run_key`` is stable across retries."""

    partitions: tuple[str, ...]
    run_key: str
    reason: str


@dataclass(frozen=True)
class Progress:
    """Counts of one group, to report on each of its partitions."""

    group_id: str
    partitions: tuple[str, ...]
    expected: int
    counts: dict[str, int]
    settled_estimate: int
    state: Literal["open", "settled"]
    stuck: int
    batches_confirmed: int
    batches: int


@dataclass(frozen=True)
class WaitingRun:
    """A run that keeps an open group from settling."""

    id: str
    status: str
    batch_id: str | None
    waiting_seconds: float
    """Since its last update (Extend's ``updatedAt``)."""


@dataclass
class TickReport:
    requests: list[PartitionRequest] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    list_calls: int = 0
    scan_calls: int = 0
    """The list calls of the incremental scan (the rest confirm, look up or cancel)."""
    get_calls: int = 0
    cancel_calls: int = 0
    runs_changed: int = 0
    overlap_rereads: int = 0
    error: str | None = None
    exception: Exception | None = field(default=None, repr=False)
    """The API error that stopped the tick (its type tells auth from transient)."""
    waiting: list[WaitingRun] = field(default_factory=list)
    """Runs an open group waits for, named when a tick made no progress."""
    out_of_budget: bool = False
    mode: str = "idle"
    stuck_runs: list[str] = field(default_factory=list)
    events_read: int = 0
    """Landed webhook events read this tick (webhook completion)."""
    runs_settled_from_events: int = 0
    """Runs of the groups closed this tick on the strength of their events alone."""
    runs_reconciled: int = 0
    """Runs of the groups closed this tick by confirming through the API (no event seen)."""

    def summary(self, cursor: SensorCursor) -> str:
        scan = " (scan continues next tick)" if cursor.scan is not None else ""
        parts = [f"{len(cursor.open)} group(s) open"]
        if self.mode == "webhooks":
            parts += [
                f"{self.events_read} event(s) read",
                f"{self.runs_settled_from_events} run(s) settled from events",
                f"{self.runs_reconciled} run(s) reconciled by API",
            ]
        else:
            parts.append(f"{self.runs_changed} run(s) changed")
        parts += [
            f"{self.list_calls} list call(s)",
            f"{self.get_calls} get call(s)",
            f"{len(self.requests)} request(s)",
            f"mode {self.mode}{scan}",
        ]
        if self.stuck_runs:
            parts.append(f"{len(self.stuck_runs)} stuck run(s)")
        if self.out_of_budget:
            parts.append("time budget used up")
        if self.error:
            parts.append(f"stopped early: {self.error}")
        return "; ".join(parts)


@dataclass(frozen=True)
class PollerSettings:
    workflow_id: str
    review_policy: ReviewPolicy = "wait"
    tick_budget_seconds: float = 20.0
    stuck_after_seconds: float = 6 * 3600
    cancel_stuck: bool = False
    overlap_seconds: float = 2.0
    """Updates this close below the watermark are re-read (late commits, equal timestamps)."""
    recheck_after_seconds: float = 10.0
    """The overlap is read again until a scan starts this long after the watermark moved."""
    submit_margin_seconds: float = 300.0
    """Clock skew allowed between the submitter and Extend."""
    confirm_retry_seconds: float = 60.0
    safety_confirm_seconds: float = 600.0
    """An open group is confirmed exactly at least this often, whatever its counters say."""
    stuck_check_seconds: float = 600.0
    closed_groups_kept: int = 500
    closed_review_window_seconds: float = 14 * 24 * 3600
    max_review_lookups: int = 50
    max_cancels: int = 100
    max_boundary_ids: int = 2_000
    event_settle_seconds: float = 120.0
    """Webhooks: landed events younger than this are read on a later tick."""
    reconcile_after_seconds: float = 900.0
    """Webhooks: an open group with no new event for this long is confirmed through the API."""
    event_page_size: int = 1000
    max_event_pages: int = 100
    """Webhooks: at most this many pages of landed events per tick (the rest next tick)."""


def run_state_key(run_id: str, ts: float) -> str:
    """A short digest of one state of one run (its id and updatedAt)."""
    return hashlib.blake2b(f"{run_id}@{round(ts * 1000)}".encode(), digest_size=5).hexdigest()


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def requests_for(
    group_id: str, version: int, partitions: tuple[str, ...], reason: str
) -> list[PartitionRequest]:
    return [
        PartitionRequest(
            partitions=partitions,
            run_key=f"extend-settled-{digest(group_id, str(version), *partitions)}",
            reason=reason,
        )
    ]
