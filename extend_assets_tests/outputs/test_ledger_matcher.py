"""The ledger matcher holds its rows by column: the runs table it builds (``frame()``)
is ``run_frame(rows)``, the frame of its rows as dicts, column for column."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from extend_assets.outputs.frames import run_frame
from extend_assets.outputs.stream import LedgerMatcher, RawRunWriter, RunStream
from extend_assets_tests.outputs.test_matching_frames import DAY, ledger_of, run, submitted


def matched(ledger: pd.DataFrame, runs: list) -> LedgerMatcher:
    matcher = LedgerMatcher(ledger)
    with tempfile.TemporaryDirectory() as tmp, RawRunWriter(Path(tmp), chunk_size=2) as writer:
        RunStream(matcher, writer).add(runs, from_events=False)
    return matcher


def test_frame_equals_the_frame_of_its_rows() -> None:
    ledger = ledger_of(submitted("sub_old", 1.0, 0, 1, 2), submitted("sub_new", 2.0, 1, 3))
    runs = [
        run("workflow_run_a", 0, "sub_old"),
        run("workflow_run_b", 1, "sub_old", status="FAILED"),  # superseded: not ours
        run("workflow_run_c", 1, "sub_new", status="NEEDS_REVIEW"),
        run("workflow_run_d", 3, "sub_new"),
    ]  # document 2 gets no run: MISSING
    matcher = matched(ledger, runs)
    frame = matcher.frame()
    pd.testing.assert_frame_equal(frame, run_frame(matcher.rows))
    assert frame["status"].tolist() == ["PROCESSED", "NEEDS_REVIEW", "MISSING", "PROCESSED"]
    assert frame["run_id"].isna().tolist() == [False, False, True, False]
    assert frame["batch_id"].tolist() == ["batch_sub_old", "batch_sub_new", "batch_sub_old",
                                          "batch_sub_new"]  # fmt: skip
    assert frame["raw_line"].tolist() == [0, 1, pd.NA, 0]
    assert matcher.filled == 3


def test_an_empty_ledger_builds_an_empty_runs_table() -> None:
    matcher = matched(ledger_of(), [])
    pd.testing.assert_frame_equal(matcher.frame(), run_frame([]))


def test_a_runs_batch_wins_and_a_run_without_one_keeps_the_ledgers() -> None:
    from extend_assets.client import WorkflowRun

    ledger = ledger_of(submitted("sub_1", 1.0, 0, 1))
    moved, lone = (run(f"workflow_run_{n}", n, "sub_1").raw for n in (0, 1))
    moved["batchId"], lone["batchId"] = "batch_moved", None
    matcher = matched(ledger, [WorkflowRun.from_json(moved), WorkflowRun.from_json(lone)])
    assert matcher.frame()["batch_id"].tolist() == ["batch_moved", "batch_sub_1"]
    pd.testing.assert_frame_equal(matcher.frame(), run_frame(matcher.rows))
    assert matcher.rows[0]["partition"] == DAY


def test_the_ledger_read_in_slices_matches_as_read_at_once(monkeypatch) -> None:
    from extend_assets.outputs import stream

    ledger = ledger_of(submitted("sub_old", 1.0, 0, 1, 2), submitted("sub_new", 2.0, 1, 3))
    runs = [run("workflow_run_a", 0, "sub_old"), run("workflow_run_d", 3, "sub_new")]
    whole = matched(ledger, runs).frame().drop(columns="raw_uri")  # a temporary directory's
    monkeypatch.setattr(stream, "MATCHER_READ_ROWS", 1)
    pd.testing.assert_frame_equal(matched(ledger, runs).frame().drop(columns="raw_uri"), whole)
