"""Matching runs to the ledger (one row per document) and shaping the runs table, without I/O."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from extend_assets.client import SUBMISSION_METADATA_KEY, WorkflowRun
from extend_assets.flatten.coerce import TEXT
from extend_assets.outputs.frames import MISSING, compact_text, run_frame, status_counts, storable
from extend_assets.outputs.matching import rows_without_runs
from extend_assets.outputs.stream import LedgerMatcher, RawRunWriter, RunStream
from extend_assets.submission.ledger import DocumentVersion, LedgerEvent, PartitionLedger
from extend_assets.submission.ledger_table import ledger_frame
from extend_assets_tests.client.payloads import run_json

DAY = "2025-01-13"


def doc(i: int) -> DocumentVersion:
    return DocumentVersion("bucket", f"{DAY}/doc{i}.pdf", f"etag{i}")


def run(run_id: str, i: int, submission: str, status: str = "PROCESSED") -> WorkflowRun:
    version = doc(i)
    metadata = {
        "bucket": version.namespace,
        "key": version.name,
        "etag": version.version,
        "partition": DAY,
        SUBMISSION_METADATA_KEY: submission,
    }
    return WorkflowRun.from_json(
        run_json(run_id, status=status, metadata=metadata, batchId=f"batch_{submission}")
    )


def match_runs_to_ledger(ledger: pd.DataFrame, runs: list[WorkflowRun]) -> list[dict[str, Any]]:
    """The runs streamed into the ledger's rows, their raw JSON to a throwaway file."""
    matcher = LedgerMatcher(ledger)
    with tempfile.TemporaryDirectory() as tmp, RawRunWriter(Path(tmp), chunk_size=10) as writer:
        RunStream(matcher, writer).add(runs, from_events=False)
    return matcher.rows


def ledger_of(*events: LedgerEvent) -> pd.DataFrame:
    ledger = PartitionLedger(DAY)
    for event in events:
        ledger.apply(event)
    return ledger_frame([ledger])


def submitted(submission: str, at: float, *docs: int) -> LedgerEvent:
    return LedgerEvent(
        submission,
        "submitted",
        DAY,
        at,
        documents=tuple(doc(i) for i in docs),
        batch_id=f"batch_{submission}",
    )


def test_each_document_matches_the_run_of_its_newest_submission() -> None:
    ledger = ledger_of(submitted("sub_old", 1.0, 0, 1), submitted("sub_new", 2.0, 1))
    runs = [
        run("workflow_run_a", 0, "sub_old"),
        run("workflow_run_b", 1, "sub_old", status="FAILED"),
        run("workflow_run_c", 1, "sub_new"),
    ]
    rows = match_runs_to_ledger(ledger, runs)
    by_key = {row["key"]: row for row in rows}
    assert len(rows) == 2
    assert by_key[f"{DAY}/doc0.pdf"]["run_id"] == "workflow_run_a"
    assert by_key[f"{DAY}/doc1.pdf"]["run_id"] == "workflow_run_c"  # the resend, not the FAILED one
    assert by_key[f"{DAY}/doc1.pdf"]["status"] == "PROCESSED"


def test_a_document_without_its_run_is_a_missing_row_not_a_lost_one() -> None:
    ledger = ledger_of(submitted("sub_1", 1.0, 0, 1))
    rows = match_runs_to_ledger(ledger, [run("workflow_run_a", 0, "sub_1")])
    frame = run_frame(rows)
    assert status_counts(frame["status"]) == {"PROCESSED": 1, MISSING: 1}
    extra = rows_without_runs(frame, None)
    assert list(extra["key"]) == [f"{DAY}/doc1.pdf"]
    assert list(extra["failure_reason"]) == ["RUN_NOT_FOUND"]
    assert str(frame["raw_uri"].dtype) == "string" and "raw_json" not in frame.columns


def test_storable_types_empty_and_nested_columns() -> None:
    frame = pd.DataFrame(
        {"empty": [None, None], "nested": [{"a": 1}, None], "text": ["x", None], "n": [1, 2]}
    )
    out = storable(frame)
    assert str(out["empty"].dtype) == "string"
    assert out["nested"].tolist()[0] == '{"a": 1}' and pd.isna(out["nested"].tolist()[1])
    assert str(out["text"].dtype) == "string" and str(out["n"].dtype) == "int64"
    assert frame["nested"].tolist()[0] == {"a": 1}  # the input is left alone


def test_status_counts_ignore_nulls() -> None:
    values: list[Any] = ["FAILED", None, float("nan"), "PROCESSED", "FAILED"]
    assert status_counts(values) == {"FAILED": 2, "PROCESSED": 1}


def test_compact_text_converts_only_columns_of_text() -> None:
    frame = pd.DataFrame(
        {
            "text": ["a", None, "c"],
            "mixed": ["a", 1, None],  # not all text: left as it is
            "empty": [None, None, None],  # no values to tell a type by: left as it is
            "number": [1.0, 2.0, None],
        },
        dtype=object,
    ).astype({"number": "float64"})
    out = compact_text(frame)
    assert out["text"].dtype == TEXT and out["text"].tolist() == ["a", pd.NA, "c"]
    assert out["mixed"].dtype == object and out["mixed"].tolist() == ["a", 1, None]
    assert out["empty"].dtype == object and out["number"].dtype == "float64"
