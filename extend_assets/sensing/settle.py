"""Settling: confirm a group exactly before closing it, report progress, watch for stuck runs.

Confirmation goes status by status (PENDING, PROCESSING, CANCELLING, and NEEDS_REVIEW
when waiting for reviews); runs only move forward through those, so a (batch, status)
pair found empty stays empty and a confirmation resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from extend_assets.sensing.base import PollerBase
from extend_assets.sensing.cursor import ClosedGroup, OpenGroup
from extend_assets.sensing.model import (
    NEEDS_REVIEW,
    PAGE_SIZE,
    TERMINAL,
    Progress,
    RunSummaryLike,
    requests_for,
)


class SettleSteps(PollerBase):
    """The settling half of :class:`~extend_assets.sensing.poller.RunStatusPoller`."""

    def _settle_groups(self, force_confirm: bool) -> None:
        now = self.clock()
        for group in list(self.cursor.open):
            estimate = self.settled_estimate(group)
            due = force_confirm or now - group.last_confirm >= self.settings.safety_confirm_seconds
            # Runs created one by one are tracked exactly: none left means none open.
            ready = (estimate >= group.expected or not group.batches) and not group.direct
            if ready:
                moved = estimate != group.confirmed_counts
                due = (
                    due or moved or now - group.last_confirm >= self.settings.confirm_retry_seconds
                )
            if due and self._confirm(group, likely_settled=ready):
                self._close(group)

    def _confirm(self, group: OpenGroup, likely_settled: bool) -> bool:
        """Exact check, status by status and batch by batch; resumes where it stopped.

        A group that looks settled first asks the workflow as a whole (one call per
        status, shared by every group this tick); only a status some run of the
        workflow is still in is checked batch by batch.
        """
        started, estimate = self.clock(), self.settled_estimate(group)

        def attempted() -> None:  # only an attempt that got answers counts as one
            group.last_confirm = started
            group.confirmed_counts = estimate

        order = self._confirm_order()
        per_status = len(group.batches)
        total = per_status * len(order)
        # The call after which this group's previous statuses were known empty (-1: in
        # an earlier tick). A status is only known empty from an answer given after
        # that: a run PENDING before then may be PROCESSING now.
        previous_done = self._statuses_done_at.get(group.id, -1)
        while group.confirm_pos < total:
            block, offset = divmod(group.confirm_pos, per_status)
            status = order[block]
            if likely_settled:
                clear_at = self._workflow_clear_after(status, previous_done)
                if clear_at is not None:
                    attempted()
                    group.confirm_pos = (block + 1) * per_status
                    previous_done = self._statuses_done_at[group.id] = clear_at
                    self._changed_groups.add(group.id)
                    continue
            page = self._list(batch_id=group.batches[offset], status=status, page_size=1)
            attempted()
            if list(page.runs):
                self._changed_groups.add(group.id)
                return False
            group.confirm_pos += 1
            if group.confirm_pos % per_status == 0:
                previous_done = self._statuses_done_at[group.id] = self._calls
            self._changed_groups.add(group.id)
        for run_id in list(group.direct):
            self._spend()
            run = self.client.get_workflow_run(run_id)
            self.report.get_calls += 1
            attempted()
            if not self._is_settled(str(run.status)):
                return False
            group.direct.remove(run_id)
        attempted()
        return True

    def _workflow_clear_after(self, status: str, after: int) -> int | None:
        """The number of a call, later than ``after``, that found no run of the workflow
        in ``status`` (asking once more if needed); None when some run is in it."""
        if status in self._workflow_occupied:
            return None
        seen = self._workflow_clear.get(status)
        if seen is not None and seen > after:
            return seen
        page = self._list(workflow_id=self.settings.workflow_id, status=status, page_size=1)
        if list(page.runs):
            self._workflow_occupied.add(status)
            return None
        self._workflow_clear[status] = self._calls
        return self._calls

    def _close(self, group: OpenGroup) -> None:
        c = self.cursor
        self.report.requests.extend(
            requests_for(group.id, 0, tuple(group.partitions), "every run settled")
        )
        self._changed_groups.add(group.id)
        self.report.progress.append(self._progress(group, state="settled"))
        c.open.remove(group)
        c.closed.append(
            ClosedGroup(
                id=group.id,
                partitions=group.partitions,
                batches=group.batches,
                closed_wm=c.wm if c.wm is not None else group.wm,
                closed_at=self.clock(),
                batch_partitions=group.batch_partitions,
            )
        )
        del c.closed[: max(0, len(c.closed) - self.settings.closed_groups_kept)]

    def _expire_closed(self) -> None:
        horizon = self.clock() - self.settings.closed_review_window_seconds
        self.cursor.closed = [g for g in self.cursor.closed if g.closed_at >= horizon]

    def _check_stuck(self) -> None:
        c = self.cursor
        now = self.clock()
        old_enough = [
            g
            for g in c.open
            if now - (g.start + self.settings.submit_margin_seconds)
            > self.settings.stuck_after_seconds
        ]
        if not old_enough or now - c.last_stuck_check < self.settings.stuck_check_seconds:
            return
        by_batch = {b: g for g in old_enough for b in g.batches}
        by_run = {r: g for g in old_enough for r in g.direct}
        cutoff = now - self.settings.stuck_after_seconds
        stuck: dict[str, list[str]] = {}
        for status in ("PENDING", "PROCESSING"):
            for run in self._runs_older_than(status, cutoff):
                group = by_run.get(run.id) or (by_batch.get(run.batch_id) if run.batch_id else None)
                if group is not None:
                    stuck.setdefault(group.id, []).append(run.id)
        c.last_stuck_check = now
        for group in old_enough:
            ids = stuck.get(group.id, [])
            if group.stuck != len(ids):
                self._changed_groups.add(group.id)
            group.stuck = len(ids)
            self.report.stuck_runs.extend(ids)
        if self.settings.cancel_stuck:
            for run_id in self.report.stuck_runs[: self.settings.max_cancels]:
                self._spend()
                self.client.cancel_workflow_run(run_id)
                self.report.cancel_calls += 1

    def _runs_older_than(self, status: str, cutoff: float) -> Iterator[RunSummaryLike]:
        token: str | None = None
        for _ in range(10):  # bounded; the rest is seen at the next check
            page = self._list(
                workflow_id=self.settings.workflow_id,
                status=status,
                sort_by="updatedAt",
                sort_dir="asc",
                page_size=PAGE_SIZE,
                page_token=token,
            )
            for run in page.runs:
                if run.updated_at.timestamp() > cutoff:
                    return
                yield run
            token = page.next_page_token
            if not token:
                return

    def _progress(self, group: OpenGroup, state: Literal["open", "settled"] = "open") -> Progress:
        estimate = min(group.expected, self.settled_estimate(group))
        counts = {s: group.counts.get(s, 0) for s in TERMINAL if group.counts.get(s, 0)}
        waiting = max(0, group.counts.get(NEEDS_REVIEW, 0) - group.counts.get("reviewed", 0))
        if waiting:
            counts[NEEDS_REVIEW] = waiting
        in_flight = max(0, group.expected - sum(counts.values()))
        if in_flight and state == "open":
            counts["IN_FLIGHT"] = in_flight
        order = len(self._confirm_order())
        return Progress(
            group_id=group.id,
            partitions=tuple(group.partitions),
            expected=group.expected,
            counts=counts,
            settled_estimate=group.expected if state == "settled" else estimate,
            state=state,
            stuck=group.stuck,
            batches_confirmed=len(group.batches)
            if state == "settled"
            else group.confirm_pos // order,
            batches=len(group.batches),
        )
