"""The runs stream: ledger matching, events against listed statuses, gaps by GET, chunked files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from extend_assets.client import SUBMISSION_METADATA_KEY, WorkflowRun
from extend_assets.client.errors import ExtendServerError
from extend_assets.outputs.frames import run_frame
from extend_assets.outputs.raw_files import RawRunWriter, iter_raw_file
from extend_assets.outputs.stream import LedgerMatcher, RunStream


def raw(n: int, status: str = "PROCESSED") -> dict[str, Any]:
    return {
        "id": f"run_{n}",
        "status": status,
        "batchId": "batch_1",
        "metadata": {"bucket": "b", "key": f"k{n}", "etag": f"e{n}", SUBMISSION_METADATA_KEY: "s1"},
    }


def ledger(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partition": ["2025-01-01"] * count,
            "bucket": ["b"] * count,
            "key": [f"k{n}" for n in range(count)],
            "etag": [f"e{n}" for n in range(count)],
            "submission_id": ["s1"] * count,
            "batch_id": ["batch_1"] * count,
            "run_id": [None] * count,
        }
    )


@dataclass
class Event:
    run_id: str | None
    run_status: str | None
    payload: dict[str, Any]
    api_version: str = "2025-04-21"


def event(n: int, status: str = "PROCESSED") -> Event:
    return Event(f"run_{n}", status, raw(n, status))


@dataclass
class Client:
    runs: dict[str, dict[str, Any]]
    gets: list[str] = field(default_factory=list)
    fail_once: set[str] = field(default_factory=set)

    def get_workflow_run(self, run_id: str) -> WorkflowRun:
        self.gets.append(run_id)
        if run_id in self.fail_once:
            self.fail_once.discard(run_id)
            raise ExtendServerError("HTTP 503 (gave up after 5 attempts)", status=503)
        return WorkflowRun.from_json(self.runs[run_id])


def test_events_fill_the_rows_gaps_are_fetched_and_files_hold_chunks(tmp_path: Path) -> None:
    matcher = LedgerMatcher(ledger(10))
    listed = {f"run_{n}": "PROCESSED" for n in range(10)}
    listed["run_9"] = "FAILED"
    events = [
        event(0),
        event(1),
        event(1),  # another event of the same run: skipped once the run is written
        event(2, "NEEDS_REVIEW"),  # stale: the listing says PROCESSED (reviewed since)
        event(2),
        event(9),  # stale: the run FAILED since, fetched instead
        *(event(n) for n in range(3, 7)),
        Event("run_other", "PROCESSED", raw(99)),  # not ours, not wanted
    ]
    client = Client({f"run_{n}": raw(n, listed[f"run_{n}"]) for n in range(10)})
    with RawRunWriter(tmp_path / "raw", chunk_size=3) as writer:
        stream = RunStream(matcher, writer)
        stream.take_events(events, listed, chunk_size=3)
        stream.fetch_gaps(client, listed, chunk_size=3)  # type: ignore[arg-type]
    assert stream.counts.from_events == 7 and stream.counts.fetched == 3
    assert sorted(client.gets) == ["run_7", "run_8", "run_9"]
    assert stream.counts.stale_events == 2
    assert all(size <= 3 for size in stream.counts.chunks)
    assert len(writer.files) == 4  # 10 runs in files of at most 3 lines
    frame = run_frame(matcher.rows)
    assert frame["run_id"].notna().all() and frame["run_id"].is_unique
    assert dict(zip(frame["key"], frame["status"], strict=True))["k9"] == "FAILED"
    # Each row points at its own line.
    for row in frame.itertuples():
        lines = list(iter_raw_file(row.raw_uri))
        assert lines[row.raw_line]["id"] == row.run_id
    assert [len(list(iter_raw_file(f))) for f in writer.files] == [3, 3, 3, 1]


def test_documents_without_a_run_stay_missing_and_runs_of_other_days_are_not_written(
    tmp_path: Path,
) -> None:
    matcher = LedgerMatcher(ledger(2))
    with RawRunWriter(tmp_path / "raw", chunk_size=10) as writer:
        stream = RunStream(matcher, writer)
        other = raw(5)
        stream.add([WorkflowRun.from_json(raw(0)), WorkflowRun.from_json(other)], from_events=False)
    frame = run_frame(matcher.rows)
    assert list(frame["status"]) == ["PROCESSED", "MISSING"]
    assert stream.counts.not_ours == 1 and writer.lines == 1


def test_events_of_an_unparsed_api_version_are_fetched_instead(tmp_path: Path) -> None:
    matcher = LedgerMatcher(ledger(1))
    client = Client({"run_0": raw(0)})
    with RawRunWriter(tmp_path / "raw", chunk_size=10) as writer:
        stream = RunStream(matcher, writer)
        stream.take_events(
            [Event("run_0", "PROCESSED", raw(0), "2027-01-01")], {"run_0": "PROCESSED"}, 10
        )
        stream.fetch_gaps(client, ["run_0"], chunk_size=10)  # type: ignore[arg-type]
    assert stream.counts.unparsed_events == 1 and client.gets == ["run_0"]


def test_presigned_urls_are_not_written(tmp_path: Path) -> None:
    signed = "https://s3.example/doc.pdf?X-Amz-Signature=abc"
    run = {**raw(0), "files": [{"id": "f1", "presignedUrl": signed}],
           "outputs": [{"id": "o1", "files": [{"id": "f1", "presignedUrl": signed}]}]}  # fmt: skip
    matcher = LedgerMatcher(ledger(1))
    with RawRunWriter(tmp_path / "raw", chunk_size=10) as writer:
        RunStream(matcher, writer).add([WorkflowRun.from_json(run)], from_events=False)
    (written,) = iter_raw_file(writer.files[0])
    assert "X-Amz-Signature" not in str(written)
    assert written["files"][0]["id"] == "f1"


def test_a_get_that_fails_after_the_clients_retries_is_asked_once_more(tmp_path: Path) -> None:
    matcher = LedgerMatcher(ledger(3))
    client = Client({f"run_{n}": raw(n) for n in range(3)}, fail_once={"run_1"})
    with RawRunWriter(tmp_path / "raw", chunk_size=10) as writer:
        stream = RunStream(matcher, writer)
        stream.fetch_gaps(client, ["run_0", "run_1", "run_2"], chunk_size=10)  # type: ignore[arg-type]
    assert stream.counts.fetched == 3 and stream.counts.retried == 1
    assert sorted(client.gets) == ["run_0", "run_1", "run_1", "run_2"]
