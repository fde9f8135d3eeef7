"""Incremental run-status polling, without Dagster: one call of :meth:`RunStatusPoller.tick`.

See :mod:`extend_assets.sensing` for the design. The poller mutates the cursor
step by step (each API call, then the state it implies), so whatever stops a tick
(the time budget, a 429, a dropped connection) leaves a cursor that is consistent
and resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from extend_assets.client import ExtendError
from extend_assets.sensing.cursor import ClosedGroup, OpenGroup, ScanState, SensorCursor

ReviewPolicy = Literal["wait", "settle"]

TERMINAL = ("PROCESSED", "FAILED", "REJECTED", "CANCELLED")
IN_FLIGHT = ("PENDING", "PROCESSING", "CANCELLING")
NEEDS_REVIEW = "NEEDS_REVIEW"
# Order matters: runs only move forward through these, so a (batch, status) pair found
# empty stays empty and confirmation can resume where it stopped.
CONFIRM_ORDER_WAIT = ("PENDING", "PROCESSING", "CANCELLING", NEEDS_REVIEW)
CONFIRM_ORDER_SETTLE = ("PENDING", "PROCESSING", "CANCELLING")
SUBMISSION_METADATA_KEY = "extend_assets_submission"
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
class Submission:
    """One group read from the submission ledger (one Dagster run's submissions)."""

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
    out_of_budget: bool = False
    mode: str = "idle"
    stuck_runs: list[str] = field(default_factory=list)

    def summary(self, cursor: SensorCursor) -> str:
        scan = " (scan continues next tick)" if cursor.scan is not None else ""
        parts = [
            f"{len(cursor.open)} group(s) open",
            f"{self.runs_changed} run(s) changed",
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


class _OutOfBudget(Exception):
    pass


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


class RunStatusPoller:
    """Polls Extend for the groups recorded in the cursor; see :meth:`tick`."""

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

    # -- ledger ---------------------------------------------------------------------

    @property
    def accepts_submissions(self) -> bool:
        """New groups join only between scans, so each scan counts a fixed set of groups."""
        return self.cursor.scan is None

    def add_submissions(self, submissions: Iterable[Submission]) -> None:
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

    # -- the tick -------------------------------------------------------------------

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
        except _OutOfBudget:
            self.report.out_of_budget = True
        except ExtendError as error:
            self.report.error = f"{type(error).__name__}: {error}"
        self.report.progress.extend(
            self._progress(g) for g in self.cursor.open if g.id in self._changed_groups
        )
        return self.report

    def _spend(self) -> None:
        """Stop when the budget is used up, but never before one call: every tick progresses."""
        if self._calls and self.clock() - self._started >= self.settings.tick_budget_seconds:
            raise _OutOfBudget
        self._calls += 1

    def _list(self, **params: Any) -> Any:
        self._spend()
        page = self.client.list_workflow_runs_page(**params)
        self.report.list_calls += 1
        return page

    # -- scanning -------------------------------------------------------------------

    def _watching_closed(self) -> bool:
        return self.settings.review_policy == "settle" and bool(self.cursor.closed)

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
                key = _run_key(run.id, ts)
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
            run_key=f"extend-reviewed-{_digest(str(submission), run.id, f'{reviewed:.3f}')}",
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
                _requests_for(
                    closed.id,
                    closed.rerequests,
                    tuple(sorted(partitions)),
                    "runs were reviewed after the partition settled",
                )
            )
        index.rerequest.clear()

    # -- settling -------------------------------------------------------------------

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
            _requests_for(group.id, 0, tuple(group.partitions), "every run settled")
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

    # -- stuck runs -----------------------------------------------------------------

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

    # -- reporting ------------------------------------------------------------------

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
        return _run_key(run.id, ts) in self.boundary


def _run_key(run_id: str, ts: float) -> str:
    """A short digest of one state of one run (its id and updatedAt)."""
    return hashlib.blake2b(f"{run_id}@{round(ts * 1000)}".encode(), digest_size=5).hexdigest()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def _requests_for(
    group_id: str, version: int, partitions: tuple[str, ...], reason: str
) -> list[PartitionRequest]:
    return [
        PartitionRequest(
            partitions=partitions,
            run_key=f"extend-settled-{_digest(group_id, str(version), *partitions)}",
            reason=reason,
        )
    ]
