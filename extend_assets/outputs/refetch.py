"""Fetching again the runs of a raw file that is gone: landed events first, then GET.

In webhooks mode the landing zone still holds the events the runs step took (unless
its own retention removed them): a run's event is taken when it carries the status the
runs table recorded. Every other run is fetched with ``GET /workflow_runs/{id}``,
concurrently within the client's rate limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from extend_assets.client import ExtendClient
from extend_assets.outputs.raw_files import without_presigned_urls
from extend_assets.outputs.stream import (
    PARSED_VERSIONS,
    SETTLED_STATUSES,
    LandedEventLike,
    run_from_event,
)


class EventSource(Protocol):
    """The part of ``extend_assets.webhooks.LandingZone`` read here."""

    def iter_events_for(
        self, *, runs: Iterable[str] = (), batches: Iterable[str] = ()
    ) -> Iterator[LandedEventLike]: ...


class RunRefetcher:
    """A :data:`~extend_assets.outputs.raw_reader.Refetch`: counts where runs came from."""

    def __init__(
        self,
        client: ExtendClient,
        *,
        events: EventSource | None = None,
        max_workers: int = 16,
    ) -> None:
        self.client = client
        self.events = events
        self.max_workers = max_workers
        self.from_events = 0
        self.fetched = 0

    def __call__(self, wanted: Sequence[tuple[str, str | None]]) -> Iterator[dict[str, Any]]:
        recorded = dict(wanted)
        left = dict(recorded)
        if self.events is not None and left:
            for event in self.events.iter_events_for(runs=list(left)):
                run_id = event.run_id
                if run_id not in left or event.api_version not in PARSED_VERSIONS:
                    continue
                status = event.run_status
                if status not in SETTLED_STATUSES or (
                    recorded[run_id] is not None and status != recorded[run_id]
                ):
                    continue
                del left[run_id]
                self.from_events += 1
                yield without_presigned_urls(run_from_event(event).raw)
        if not left:
            return
        ids = list(left)
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(ids)))) as pool:
            for run in pool.map(self.client.get_workflow_run, ids):
                self.fetched += 1
                yield without_presigned_urls(run.raw)
