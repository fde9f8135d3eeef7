"""Runs of a lost raw file, again: an event with the recorded status, else a GET."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from extend_assets.outputs.refetch import RunRefetcher
from extend_assets_tests.outputs.test_stream import Client, Event, event, raw


class Events:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.asked: list[list[str]] = []

    def iter_events_for(
        self, *, runs: Iterable[str] = (), batches: Iterable[str] = ()
    ) -> Iterator[Any]:
        wanted = list(runs)
        self.asked.append(wanted)
        return iter([e for e in self.events if e.run_id in wanted])


def test_events_with_the_recorded_status_are_taken_and_the_rest_fetched() -> None:
    payload = raw(0)
    payload["files"] = [{"presignedUrl": "https://s3/x?X-Amz-Signature=abc"}]
    events = Events(
        [
            Event("run_0", "PROCESSED", payload),
            event(1, "NEEDS_REVIEW"),  # the runs table recorded PROCESSED: reviewed since
            Event("run_2", "PROCESSED", raw(2), api_version="2099-01-01"),  # not parsed here
            event(3, "PROCESSING"),  # not settled
            event(4),  # not asked for
        ]
    )
    client = Client({f"run_{n}": raw(n) for n in range(4)})
    refetch = RunRefetcher(client, events=events, max_workers=2)  # type: ignore[arg-type]
    wanted: list[tuple[str, str | None]] = [(f"run_{n}", "PROCESSED") for n in range(4)]

    got = list(refetch(wanted))

    assert sorted(r["id"] for r in got) == ["run_0", "run_1", "run_2", "run_3"]
    assert sorted(client.gets) == ["run_1", "run_2", "run_3"]
    assert (refetch.from_events, refetch.fetched) == (1, 3)
    assert got[0]["files"] == [{"presignedUrl": None}]  # never stored again with a URL
    assert events.asked == [[f"run_{n}" for n in range(4)]]


def test_polling_mode_gets_every_run() -> None:
    client = Client({f"run_{n}": raw(n) for n in range(3)})
    refetch = RunRefetcher(client, max_workers=3)  # type: ignore[arg-type]
    assert [r["id"] for r in refetch([(f"run_{n}", None) for n in range(3)])] == [
        "run_0",
        "run_1",
        "run_2",
    ]
    assert (refetch.from_events, refetch.fetched) == (0, 3)
