"""The state one poller tick works on, and the budget every API call of a tick spends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from extend_assets.sensing.cursor import OpenGroup, SensorCursor
from extend_assets.sensing.model import (
    CONFIRM_ORDER_SETTLE,
    CONFIRM_ORDER_WAIT,
    NEEDS_REVIEW,
    TERMINAL,
    PollerSettings,
    StatusClient,
    TickReport,
)


class OutOfBudget(Exception):
    """The tick's time budget is used up; the cursor keeps what was done."""


class PollerBase:
    """Holds the cursor, settings and report of one tick; the steps build on it."""

    def __init__(
        self,
        client: StatusClient,
        cursor: SensorCursor,
        settings: PollerSettings,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.cursor = cursor
        self.settings = settings
        self.clock = clock
        self._started = clock()
        self._calls = 0
        self.report = TickReport()
        self._changed_groups: set[str] = set()
        # This tick's workflow-wide answers: status -> number of the call that found no
        # run of the workflow in it; statuses found occupied are not asked again.
        self._workflow_clear: dict[str, int] = {}
        self._workflow_occupied: set[str] = set()
        # Per group, the call after which its statuses so far were known empty this tick.
        self._statuses_done_at: dict[str, int] = {}

    def _spend(self) -> None:
        """Stop when the budget is used up, but never before one call: every tick progresses."""
        if self._calls and self.clock() - self._started >= self.settings.tick_budget_seconds:
            raise OutOfBudget
        self._calls += 1

    def _list(self, **params: Any) -> Any:
        self._spend()
        page = self.client.list_workflow_runs_page(**params)
        self.report.list_calls += 1
        return page

    def _watching_closed(self) -> bool:
        return self.settings.review_policy == "settle" and bool(self.cursor.closed)

    def _is_settled(self, status: str) -> bool:
        if status in TERMINAL:
            return True
        return status == NEEDS_REVIEW and self.settings.review_policy == "settle"

    def _confirm_order(self) -> tuple[str, ...]:
        if self.settings.review_policy == "wait":
            return CONFIRM_ORDER_WAIT
        return CONFIRM_ORDER_SETTLE

    def _confirm_remaining(self, group: OpenGroup) -> int:
        return len(group.batches) * len(self._confirm_order()) - group.confirm_pos

    def settled_estimate(self, group: OpenGroup) -> int:
        terminal = sum(group.counts.get(s, 0) for s in TERMINAL)
        if self.settings.review_policy == "settle":
            waiting = max(0, group.counts.get(NEEDS_REVIEW, 0) - group.counts.get("reviewed", 0))
            terminal += waiting
        return terminal
