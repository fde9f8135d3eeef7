"""An in-memory stand-in for the parts of ExtendClient the poller uses."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from extend_assets.client import ExtendError


@dataclass
class FakeRun:
    id: str
    status: str
    batch_id: str | None
    updated_at: datetime
    created_at: datetime
    reviewed_at: datetime | None = None
    workflow_id: str = "wf"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakePage:
    runs: list[FakeRun]
    next_page_token: str | None


class FakeServerError(ExtendError):
    pass


class FakeExtend:
    """Runs with server-side timestamps from a manual clock; offset page tokens."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.runs: dict[str, FakeRun] = {}
        self.by_batch: dict[str, list[FakeRun]] = {}
        self.calls: dict[str, int] = {"list": 0, "get": 0, "cancel": 0}
        self.fail_next = 0
        self.on_list: Callable[[int], None] | None = None
        """Called before each list call with the number of list calls so far."""
        self.before_list: Callable[[dict[str, Any]], None] | None = None
        """Called before each list call with its filters (status, batch_id, workflow_id)."""
        self._ids = itertools.count(1)

    # -- test controls -----------------------------------------------------------

    def _ts(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def add_batch(
        self, count: int, partition: str = "2025-01-01", workflow_id: str = "wf"
    ) -> tuple[str, list[str]]:
        batch = f"batch_{next(self._ids):08d}"
        ids = []
        for _ in range(count):
            run_id = f"workflow_run_{next(self._ids):021d}"
            self.runs[run_id] = FakeRun(
                run_id,
                "PENDING",
                batch,
                self._ts(),
                self._ts(),
                workflow_id=workflow_id,
                metadata={"partition": partition, "extend_assets_submission": "sub_1"},
            )
            ids.append(run_id)
            self.by_batch.setdefault(batch, []).append(self.runs[run_id])
        return batch, ids

    def set_status(self, run_ids: list[str], status: str, reviewed: bool = False) -> None:
        for run_id in run_ids:
            run = self.runs[run_id]
            run.status = status
            run.updated_at = self._ts()
            if reviewed:
                run.reviewed_at = self._ts()

    def touch(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.runs[run_id].updated_at = self._ts()

    # -- client surface ----------------------------------------------------------

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise FakeServerError("HTTP 503 from Extend")

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
    ) -> FakePage:
        if self.on_list is not None:
            self.on_list(self.calls["list"])
        if self.before_list is not None:
            self.before_list({"status": status, "batch_id": batch_id, "workflow_id": workflow_id})
        self._maybe_fail()
        self.calls["list"] += 1
        pool = self.by_batch.get(batch_id, []) if batch_id else self.runs.values()
        runs = [
            r
            for r in pool
            if (status is None or r.status == status)
            and (workflow_id is None or r.workflow_id == workflow_id)
            and (batch_id is None or r.batch_id == batch_id)
        ]
        key = (lambda r: r.created_at) if sort_by == "createdAt" else (lambda r: r.updated_at)
        runs.sort(key=lambda r: (key(r), r.id), reverse=(sort_dir or "desc") == "desc")
        size = page_size or 10
        offset = int(page_token or 0)
        chunk = runs[offset : offset + size]
        token = str(offset + size) if offset + size < len(runs) else None
        return FakePage(chunk, token)

    def get_workflow_run(self, workflow_run_id: str) -> FakeRun:
        self._maybe_fail()
        self.calls["get"] += 1
        return self.runs[workflow_run_id]

    def cancel_workflow_run(self, workflow_run_id: str) -> FakeRun:
        self._maybe_fail()
        self.calls["cancel"] += 1
        self.set_status([workflow_run_id], "CANCELLED")
        return self.runs[workflow_run_id]


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
