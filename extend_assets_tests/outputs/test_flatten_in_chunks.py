"""Flattening a runs table's raw files in batches gives the frame of flattening all its
runs at once, whatever the batch size, with the errors of every batch counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extend_assets import flatten
from extend_assets.outputs.frames import run_frame
from extend_assets.outputs.matching import source_refs
from extend_assets.outputs.raw_files import RawRunWriter
from extend_assets.outputs.schema_union import WorkflowSchema
from extend_assets.outputs.stream import flatten_in_chunks
from extend_assets_tests.flatten import builders as b


def _runs() -> list[dict[str, Any]]:
    runs = []
    for n in range(11):
        run_id = f"workflow_run_{n:021d}"
        if n == 4:
            runs.append(b.failed_run(run_id))
        elif n == 7:  # a value its column cannot hold: one coercion error
            value = b.invoice_value(invoice_date="not a date")
            runs.append(b.workflow_run(run_id, outputs=[b.classify_run(), b.extract_run(value)]))
        else:
            runs.append(b.workflow_run(run_id, key=f"invoices/2025-01-15/inv-{n}.pdf"))
    return runs


def _runs_table(runs: list[dict[str, Any]], directory: Path) -> pd.DataFrame:
    rows = []
    with RawRunWriter(directory, chunk_size=3) as writer:
        for run in runs:
            uri, line = writer.add(run)
            rows.append(
                {
                    "partition": "2025-01-15",
                    "partition_date": "2025-01-15",
                    "bucket": "docs",
                    "key": run["metadata"]["key"],
                    "etag": '"abc"',
                    "submission_id": "s1",
                    "batch_id": "batch_kCz2ht2a",
                    "run_id": run["id"],
                    "status": run["status"],
                    "raw_uri": uri,
                    "raw_line": line,
                }
            )
    return run_frame(rows)


@pytest.mark.parametrize("fn", [flatten.flatten_documents, flatten.flatten_line_items])
@pytest.mark.parametrize("batch_runs", [1, 4, 1000])
def test_batches_flatten_like_all_runs_at_once(tmp_path: Path, fn: Any, batch_runs: int) -> None:
    runs = _runs()
    table = _runs_table(runs, tmp_path)
    schema = WorkflowSchema()
    schema.add(b.invoice_schema(), "Extract")
    chunks: list[int] = []
    got = flatten_in_chunks(table, fn, schema, batch_runs=batch_runs, on_chunk=chunks.append)
    expected = fn(runs, sources=source_refs(table), schema=schema.as_json_schema())
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    assert chunks == [3, 3, 3, 2]  # told per file read
    if fn is flatten.flatten_documents:
        assert got.attrs["coercion_errors"] == 1


def test_no_raw_files_flatten_to_the_empty_table(tmp_path: Path) -> None:
    table = _runs_table([], tmp_path)
    schema = WorkflowSchema()
    schema.add(b.invoice_schema(), "Extract")
    got = flatten_in_chunks(table, flatten.flatten_documents, schema)
    expected = flatten.flatten_documents([], sources={}, schema=schema.as_json_schema())
    pd.testing.assert_frame_equal(got, expected)
