"""Incremental run-status polling, without Dagster: one call of :meth:`RunStatusPoller.tick`.

See :mod:`extend_assets.sensing` for the design. The poller mutates the cursor
step by step (each API call, then the state it implies), so whatever stops a tick
(the time budget, a 429, a dropped connection) leaves a cursor that is consistent
and resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable

from extend_assets.client import ExtendError
from extend_assets.sensing.base import OutOfBudget
from extend_assets.sensing.cursor import OpenGroup
from extend_assets.sensing.model import SubmittedGroup, TickReport
from extend_assets.sensing.scan import ScanSteps
from extend_assets.sensing.settle import SettleSteps
from extend_assets.sensing.waiting import WaitingSteps


class RunStatusPoller(ScanSteps, SettleSteps, WaitingSteps):
    """Polls Extend for the groups recorded in the cursor; see :meth:`tick`."""

    @property
    def accepts_submissions(self) -> bool:
        """New groups join only between scans, so each scan counts a fixed set of groups."""
        return self.cursor.scan is None

    def add_submissions(self, submissions: Iterable[SubmittedGroup]) -> None:
        known_closed = {g.id for g in self.cursor.closed}
        by_id = {g.id: g for g in self.cursor.open}
        for sub in submissions:
            if sub.expected <= 0 or sub.group_id in known_closed:
                continue
            group = by_id.get(sub.group_id)
            if group is not None:  # the same Dagster run, another partition's record
                group.partitions = sorted(set(group.partitions) | set(sub.partitions))
                continue
            start = sub.submitted_at - self.settings.submit_margin_seconds
            group = OpenGroup(
                id=sub.group_id,
                partitions=sorted(set(sub.partitions)),
                batches=list(dict.fromkeys(sub.batch_ids)),
                expected=sub.expected,
                start=start,
                wm=start,
                direct=list(dict.fromkeys(sub.run_ids)),
                last_change=self.clock(),
                last_confirm=self.clock(),
                batch_partitions={b: list(p) for b, p in sub.batch_partitions.items()},
            )
            self.cursor.open.append(group)
            by_id[group.id] = group
            self._changed_groups.add(group.id)

    def tick(self) -> TickReport:
        """Scan (or confirm per batch), close settled groups, report; never raises API errors."""
        try:
            self._expire_closed()
            # Groups whose counters already say "done" go first: closing them is cheap.
            self._settle_groups(force_confirm=False)
            if self._scan_wanted():
                if self.cursor.scan is None and self._per_batch_is_cheaper():
                    self.report.mode = "per-batch"
                else:
                    self.report.mode = "scan"
                    self._scan()
            self._settle_groups(force_confirm=self.report.mode == "per-batch")
            self._check_stuck()
            if self._stalled():
                self._name_waiting()
        except OutOfBudget:
            self.report.out_of_budget = True
        except ExtendError as error:
            self.report.error = f"{type(error).__name__}: {error}"
            self.report.exception = error
        self.report.progress.extend(
            self._progress(g) for g in self.cursor.open if g.id in self._changed_groups
        )
        return self.report
