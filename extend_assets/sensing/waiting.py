"""Naming what a stalled tick waits for: the oldest open runs of the open groups.

Only when a tick made no progress (groups open, no run changed, nothing requested):
a few list calls, oldest first, status by status (NEEDS_REVIEW first when waiting for
reviews, then PROCESSING and PENDING), keeping the runs of open groups.
"""

from __future__ import annotations

from extend_assets.sensing.base import PollerBase
from extend_assets.sensing.model import NEEDS_REVIEW, WaitingRun

MAX_NAMED = 5
PAGE = 50


class WaitingSteps(PollerBase):
    """The "who are we waiting for" step of :class:`~extend_assets.sensing.RunStatusPoller`."""

    def _stalled(self) -> bool:
        report = self.report
        return bool(
            self.cursor.open
            and not report.requests
            and report.runs_changed == 0
            and report.error is None
            and not report.out_of_budget
        )

    def _name_waiting(self) -> None:
        batches = {batch for group in self.cursor.open for batch in group.batches}
        direct = {run_id for group in self.cursor.open for run_id in group.direct}
        statuses = ["PROCESSING", "PENDING"]
        if self.settings.review_policy == "wait":
            statuses.insert(0, NEEDS_REVIEW)
        now = self.clock()
        for status in statuses:
            page = self._list(
                workflow_id=self.settings.workflow_id,
                status=status,
                sort_by="updatedAt",
                sort_dir="asc",
                page_size=PAGE,
            )
            for run in page.runs:
                if run.batch_id in batches or run.id in direct:
                    waited = max(0.0, now - run.updated_at.timestamp())
                    self.report.waiting.append(
                        WaitingRun(run.id, str(run.status), run.batch_id, waited)
                    )
                if len(self.report.waiting) >= MAX_NAMED:
                    return
