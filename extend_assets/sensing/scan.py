"""The incremental scan: read the runs changed since the watermark and count them per group.

See :mod:`extend_assets.sensing` for the design (watermark, overlap, boundary keys,
the per-batch fallback, reviews of settled groups).
"""

from __future__ import annotations

import math

from extend_assets.client import SUBMISSION_METADATA_KEY
from extend_assets.sensing.base import PollerBase
from extend_assets.sensing.cursor import ClosedGroup, OpenGroup, ScanState
from extend_assets.sensing.model import (
    NEEDS_REVIEW,
    PAGE_SIZE,
    TERMINAL,
    PartitionRequest,
    RunSummaryLike,
    digest,
    requests_for,
    run_state_key,
)


class ScanSteps(PollerBase):
    """The scanning half of :class:`~extend_assets.sensing.poller.RunStatusPoller`."""

    def _scan_wanted(self) -> bool:
        return bool(self.cursor.open) or self._watching_closed() or self.cursor.scan is not None

    def _per_batch_is_cheaper(self) -> bool:
        """Few open batches against a busy workflow: confirming them costs less than a scan."""
        c = self.cursor
        if self._watching_closed() or c.change_rate is None or c.last_scan_at is None:
            return False
        if any(g.direct for g in c.open):
            return False  # priority runs are tracked from scan sightings
        elapsed = max(0.0, self.clock() - c.last_scan_at)
        if elapsed > self.settings.safety_confirm_seconds:
            return False  # keep counters (progress) from going stale for long
        expected_changes = c.change_rate * elapsed
        scan_calls = math.ceil(expected_changes / PAGE_SIZE) + 1
        per_batch_calls = sum(min(2, self._confirm_remaining(g)) for g in c.open)
        unsettled = sum(max(0, g.expected - self.settled_estimate(g)) for g in c.open)
        # Only when most of what a scan would read is not ours.
        return per_batch_calls < scan_calls and unsettled * 10 < expected_changes

    def _scan(self) -> None:
        # Long on purpose: one loop over pages, each applied whole or not at all (API
        # calls first, state changes after), so a stop anywhere leaves a usable cursor.
        c = self.cursor
        scan: ScanState
        if c.scan is None:
            lowers = [g.wm for g in c.open]
            if self._watching_closed() and c.wm is not None:
                lowers.append(c.wm)
            if not lowers:
                return
            lower = min(lowers)
            # The overlap guards against commits landing late below the watermark; once a
            # later scan has read it again, nothing more can land there.
            rechecked = c.wm_rechecked and lower == c.wm
            floor = lower if rechecked else lower - self.settings.overlap_seconds
            # Saved in the cursor only once its first page is in.
            scan = ScanState(lower=lower, floor=floor, started_at=self.clock())
        else:
            scan = c.scan
        index = self._index()
        for _ in range(100_000):  # bounded: every page moves the token forward
            page = self._list(
                workflow_id=self.settings.workflow_id,
                sort_by="updatedAt",
                sort_dir="desc",
                page_size=PAGE_SIZE,
                page_token=scan.token,
            )
            self.report.scan_calls += 1
            runs = list(page.runs)
            if scan.upper is None:
                top = runs[0].updated_at.timestamp() if runs else scan.lower
                scan.upper = max(top, scan.lower)
            floor = scan.floor if scan.floor is not None else scan.lower
            fresh = [run for run in runs if run.updated_at.timestamp() > floor]
            done = len(fresh) < len(runs)
            # API calls first, state changes after: a page is applied whole or not at all.
            found = [
                self._lookup_reviewed(run)
                for run in fresh
                if not index.is_reread(run) and self._needs_lookup(run, index)
            ]
            for run in fresh:
                ts = run.updated_at.timestamp()
                key = run_state_key(run.id, ts)
                near_top = ts >= scan.upper - self.settings.overlap_seconds
                counted = run.status in TERMINAL or run.status == NEEDS_REVIEW
                # Only sightings that move counters need remembering (creation bursts don't).
                if near_top and counted and len(scan.boundary) < self.settings.max_boundary_ids:
                    scan.boundary.append(key)
                if index.is_reread(run):
                    self.report.overlap_rereads += 1
                else:
                    scan.changed += 1
                    self.report.runs_changed += 1
                self._sight(run, ts, key, index)
            self.report.requests.extend(r for r in found if r is not None)
            self._flush_rerequests(index)
            scan.pages += 1
            scan.token = page.next_page_token
            c.scan = scan
            if done or not scan.token:
                self._finish_scan(scan)
                return

    def _finish_scan(self, scan: ScanState) -> None:
        c = self.cursor
        upper = scan.upper if scan.upper is not None else scan.lower
        for group in c.open:
            group.wm = max(group.wm, upper)
        now = self.clock()
        previous = c.wm
        c.wm = max(upper, c.wm or upper)
        settled = scan.started_at - c.wm_set_at >= self.settings.recheck_after_seconds
        if previous is not None and c.wm == previous:
            c.wm_rechecked = c.wm_rechecked or settled
            c.boundary = sorted(set(c.boundary) | set(scan.boundary))[
                : self.settings.max_boundary_ids
            ]
        else:
            c.wm_rechecked = False
            c.wm_set_at = now
            c.boundary = scan.boundary
        span = upper - (previous if previous is not None else scan.lower)
        if span > 0:
            rate = scan.changed / span
            c.change_rate = rate if c.change_rate is None else 0.5 * (c.change_rate + rate)
        c.last_scan_at = now
        c.scan = None

    def _index(self) -> _Index:
        c = self.cursor
        index = _Index()
        for group in c.open:
            for batch in group.batches:
                index.open_batches[batch] = group
            for run_id in group.direct:
                index.open_direct[run_id] = group
        for closed in c.closed:
            for batch in closed.batches:
                index.closed_batches[batch] = closed
        index.boundary = set(c.boundary)
        index.boundary_wm = c.wm
        return index

    def _sight(self, run: RunSummaryLike, ts: float, key: str, index: _Index) -> None:
        group = index.open_direct.get(run.id) or (
            index.open_batches.get(run.batch_id) if run.batch_id else None
        )
        if group is not None:
            self._count(group, run, ts, key, index)
            return
        reviewed = run.reviewed_at is not None and run.status != NEEDS_REVIEW
        if not reviewed or index.is_reread(run):
            return
        closed = index.closed_batches.get(run.batch_id) if run.batch_id else None
        if closed is not None:
            assert run.reviewed_at is not None
            if run.reviewed_at.timestamp() > closed.closed_wm - self.settings.overlap_seconds:
                index.rerequest.setdefault(closed.id, set()).update(
                    closed.batch_partitions.get(run.batch_id or "") or closed.partitions
                )
            return

    def _count(
        self, group: OpenGroup, run: RunSummaryLike, ts: float, key: str, index: _Index
    ) -> None:
        overlap = self.settings.overlap_seconds
        if ts <= group.wm - overlap:
            return
        if ts <= group.wm and group.wm == index.boundary_wm and key in index.boundary:
            return  # counted by the previous scan
        status = run.status
        if status in TERMINAL or status == NEEDS_REVIEW:
            group.counts[status] = group.counts.get(status, 0) + 1
        if run.reviewed_at is not None and status != NEEDS_REVIEW:
            group.counts["reviewed"] = group.counts.get("reviewed", 0) + 1
        if run.id in group.direct and self._is_settled(status):
            group.direct.remove(run.id)
        group.last_change = self.clock()
        self._changed_groups.add(group.id)

    def _needs_lookup(self, run: RunSummaryLike, index: _Index) -> bool:
        """A reviewed run of no group we still hold (evicted, or created one by one)."""
        if self.settings.review_policy != "settle" or not self.cursor.closed:
            return False
        if run.reviewed_at is None or run.status == NEEDS_REVIEW or run.id in index.open_direct:
            return False
        batch = run.batch_id or ""
        if batch in index.open_batches or batch in index.closed_batches:
            return False
        if index.lookups >= self.settings.max_review_lookups:
            return False
        index.lookups += 1
        return True

    def _lookup_reviewed(self, run: RunSummaryLike) -> PartitionRequest | None:
        """Its metadata names its partition (and marks it as ours)."""
        self._spend()
        full = self.client.get_workflow_run(run.id)
        self.report.get_calls += 1
        metadata = getattr(full, "metadata", None) or {}
        partition = metadata.get("partition")
        submission = metadata.get(SUBMISSION_METADATA_KEY)
        if not (partition and submission):
            return None
        reviewed = run.reviewed_at.timestamp() if run.reviewed_at else 0.0
        return PartitionRequest(
            partitions=(str(partition),),
            run_key=f"extend-reviewed-{digest(str(submission), run.id, f'{reviewed:.3f}')}",
            reason=f"run {run.id} was reviewed after its group settled",
        )

    def _flush_rerequests(self, index: _Index) -> None:
        by_id = {g.id: g for g in self.cursor.closed}
        for group_id, partitions in sorted(index.rerequest.items()):
            closed = by_id.get(group_id)
            if closed is None:
                continue
            closed.rerequests += 1
            self.report.requests.extend(
                requests_for(
                    closed.id,
                    closed.rerequests,
                    tuple(sorted(partitions)),
                    "runs were reviewed after the partition settled",
                )
            )
        index.rerequest.clear()


class _Index:
    """Lookups built once per tick from the cursor."""

    def __init__(self) -> None:
        self.open_batches: dict[str, OpenGroup] = {}
        self.open_direct: dict[str, OpenGroup] = {}
        self.closed_batches: dict[str, ClosedGroup] = {}
        self.boundary: set[str] = set()
        self.boundary_wm: float | None = None
        self.rerequest: dict[str, set[str]] = {}
        self.lookups = 0

    def is_reread(self, run: RunSummaryLike) -> bool:
        """Seen, in this very state, by the previous scan (within its overlap)."""
        ts = run.updated_at.timestamp()
        if self.boundary_wm is None or ts > self.boundary_wm:
            return False
        return run_state_key(run.id, ts) in self.boundary
