"""Webhook completion: settle groups from landed events; ask Extend only about silent ones.

``extend-assets webhooks`` lands each signed ``workflow_run.*`` event (see
:mod:`extend_assets.webhooks.landing`). Each tick reads the events landed since the
cursor's ``events_position`` (at most ``max_event_pages`` pages, within the time
budget) and counts them per group exactly as the poller counts its sightings:
terminal events, needs_review events and reviewed outcomes. Sightings over-count (an
event redelivered, landed twice, or a run's needs_review then completed), so when
they reach a group's expected runs the landing zone's ``run-status`` index counts the
distinct runs with a settling event; only when that count reaches the expected runs
does the group close, with no Extend call at all.

Events can be missing: a delivery lost for good, a run cancelled on 2025-04-21 (no
event exists for it), a receiver misconfigured for a while. A group that heard no new
event for ``reconcile_after_seconds`` is confirmed through the poller's exact
confirmation (list calls by status, workflow-wide first) and closed when nothing of it
is left open; only those runs cost API calls.

Events of a group landed before the group joined the cursor (its submission step was
still recording when they arrived) are counted from the landing zone's batch index
when the group joins, up to the cursor's position; later ones come through the stream.

No Dagster and no import of :mod:`extend_assets.webhooks` here: the landing zone is
passed in and used through :class:`EventSource`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from extend_assets.client import ExtendError
from extend_assets.sensing.base import OutOfBudget
from extend_assets.sensing.cursor import OpenGroup, SensorCursor
from extend_assets.sensing.model import (
    NEEDS_REVIEW,
    TERMINAL,
    PollerSettings,
    StatusClient,
    SubmittedGroup,
    TickReport,
)
from extend_assets.sensing.poller import RunStatusPoller

# The landing zone's position format (``{UTC stamp}_{eventId}``): a stamp followed by
# "_" sorts before every event landed at or after that moment.
_STAMP = "%Y%m%dT%H%M%S.%fZ"


class EventLike(Protocol):
    @property
    def position(self) -> str: ...

    @property
    def event_id(self) -> str: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def batch_id(self) -> str | None: ...

    @property
    def run_status(self) -> str | None: ...

    @property
    def payload(self) -> dict[str, Any]: ...


class EventPageLike(Protocol):
    @property
    def events(self) -> Sequence[EventLike]: ...

    @property
    def position(self) -> str | None: ...

    @property
    def more(self) -> bool: ...


class EventSource(Protocol):
    """The part of ``extend_assets.webhooks.LandingZone`` the settler reads."""

    def read_after(
        self, position: str | None = None, *, limit: int = 1000, settle_seconds: float = 120.0
    ) -> Any: ...

    def events_for_batches(self, batch_ids: Iterable[str]) -> Sequence[Any]: ...

    def events_for_runs(self, run_ids: Iterable[str]) -> Sequence[Any]: ...

    def count_runs(self, batch_ids: Iterable[str], statuses: Iterable[str]) -> int: ...


def position_at(timestamp: float) -> str:
    """The position just before everything landed at or after ``timestamp``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime(_STAMP) + "_"


class EventSettler(RunStatusPoller):
    """One webhook-completion tick over the cursor; see the module docstring."""

    def __init__(
        self,
        client: StatusClient,
        cursor: SensorCursor,
        settings: PollerSettings,
        clock: Callable[[], float],
        events: EventSource,
    ) -> None:
        super().__init__(client, cursor, settings, clock)
        self.events = events
        self.report.mode = "webhooks"

    @property
    def accepts_submissions(self) -> bool:
        return True  # no scan in flight, ever

    def add_submissions(self, submissions: Iterable[SubmittedGroup]) -> None:
        known = {g.id for g in self.cursor.open}
        super().add_submissions(submissions)
        position = self.cursor.events_position
        if position is None:
            return  # the stream starts before every open group: it will see all their events
        for group in self.cursor.open:
            if group.id in known:
                continue
            seen: set[str] = set()
            found = [
                *self.events.events_for_batches(group.batches),
                *self.events.events_for_runs(group.direct),
            ]
            for event in found:
                if event.position <= position and event.event_id not in seen:
                    seen.add(event.event_id)
                    self._count_event(group, event)

    def tick(self) -> TickReport:
        try:
            self._expire_closed()
            self._read_events()
            self._settle_from_events()
            self._reconcile()
            self._check_stuck()
        except OutOfBudget:
            self.report.out_of_budget = True
        except ExtendError as error:
            self.report.error = f"{type(error).__name__}: {error}"
        self.report.progress.extend(
            self._progress(g) for g in self.cursor.open if g.id in self._changed_groups
        )
        return self.report

    # -- steps --------------------------------------------------------------------------

    def _read_events(self) -> None:
        c = self.cursor
        if not c.open and not self._watching_closed():
            return
        if c.events_position is None:
            starts = [g.start for g in c.open] or [self.clock() - self.settings.overlap_seconds]
            c.events_position = position_at(min(starts))
        index = self._index()
        for _ in range(self.settings.max_event_pages):
            if self.clock() - self._started >= self.settings.tick_budget_seconds:
                raise OutOfBudget
            try:
                page = self.events.read_after(
                    c.events_position,
                    limit=self.settings.event_page_size,
                    settle_seconds=self.settings.event_settle_seconds,
                )
            except Exception as error:  # the landing zone is not reachable: retry next tick
                self.report.error = f"landing zone: {type(error).__name__}: {error}"
                return
            for event in page.events:
                self.report.events_read += 1
                group = (index.open_direct.get(event.run_id) if event.run_id else None) or (
                    index.open_batches.get(event.batch_id) if event.batch_id else None
                )
                if group is not None:
                    self._count_event(group, event)
                elif event.batch_id and event.batch_id in index.closed_batches:
                    self._reviewed_after_close(event, index)
            if page.position is not None:
                c.events_position = page.position
            self._flush_rerequests(index)
            if not page.more:
                return

    def _count_event(self, group: OpenGroup, event: EventLike) -> None:
        status = str(event.run_status or "")
        if status in TERMINAL or status == NEEDS_REVIEW:
            group.counts[status] = group.counts.get(status, 0) + 1
        if status != NEEDS_REVIEW and _reviewed(event):
            group.counts["reviewed"] = group.counts.get("reviewed", 0) + 1
        if event.run_id in group.direct and self._is_settled(status):
            group.direct.remove(event.run_id)
        group.last_change = self.clock()
        self._changed_groups.add(group.id)

    def _reviewed_after_close(self, event: EventLike, index: Any) -> None:
        if self.settings.review_policy != "settle" or event.run_status == NEEDS_REVIEW:
            return
        if not _reviewed(event):
            return
        closed = index.closed_batches[event.batch_id]
        index.rerequest.setdefault(closed.id, set()).update(
            closed.batch_partitions.get(event.batch_id or "") or closed.partitions
        )

    def _settle_from_events(self) -> None:
        """Close a group once every run of it has a settling event: counted exactly.

        The per-status counts are sightings (a redelivered or twice-landed event counts
        twice), so they only say when to look: the landing zone's index then counts the
        *distinct* runs with a settling event. Runs created one by one are tracked by id.
        The cursor keeps one number per group (the sightings at the last exact count),
        so the count is taken again only after new events of the group.
        """
        for group in list(self.cursor.open):
            if group.direct:
                continue
            if group.batches:
                estimate = self.settled_estimate(group)
                if estimate < group.expected or estimate == group.events_counted_at:
                    continue
                try:
                    settled = self.events.count_runs(group.batches, self._settling_statuses())
                except Exception as error:  # the landing zone is not reachable: next tick
                    self.report.error = f"landing zone: {type(error).__name__}: {error}"
                    return
                group.events_counted_at = estimate
                if settled < group.expected:
                    continue
            self.report.runs_settled_from_events += group.expected
            self._close(group)

    def _settling_statuses(self) -> tuple[str, ...]:
        if self.settings.review_policy == "settle":
            return (*TERMINAL, NEEDS_REVIEW)
        return TERMINAL

    def _reconcile(self) -> None:
        """Groups silent for the grace period: confirm through the API (lost or no events)."""
        grace = self.settings.reconcile_after_seconds
        now = self.clock()
        for group in list(self.cursor.open):
            if now - group.last_change < grace or now - group.last_confirm < grace:
                continue
            estimate = min(group.expected, self.settled_estimate(group))
            if self._confirm(group, likely_settled=True):
                self.report.runs_reconciled += group.expected - estimate
                self.report.runs_settled_from_events += estimate
                self._close(group)


def _reviewed(event: EventLike) -> bool:
    payload = event.payload if isinstance(event.payload, dict) else {}
    return bool(payload.get("reviewedAt") or payload.get("reviewed"))
