"""A workflow that routes documents to different extractors, or runs two extract steps:
the documents table holds every extractor's fields; a field two extractors type
differently is kept apart, not coerced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetsDefinition, DailyPartitionsDefinition, asset, materialize

from extend_assets.assets import build_extend_workflow_assets
from extend_assets.io_manager import ExtendDuckDBIOManager
from extend_assets.outputs.frames import run_frame
from extend_assets.outputs.raw_files import RawRunWriter
from extend_assets.resources import ExtendResource
from extend_assets_tests.assets.harness import table
from extend_assets_tests.flatten.builders import extract_run, invoice_value, workflow_run

DAY = "2025-01-15"
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "merchant": {"type": "string"},
        "total": {"type": "number"},  # the invoice extractor's total is a currency
        "invoice_number": {"type": "string"},  # same type in both: one column
    },
}


def receipt_step() -> dict[str, Any]:
    step = extract_run(
        {"merchant": "Corner Cafe", "total": 7.5, "invoice_number": "R-9"}, schema=RECEIPT_SCHEMA
    )
    step["processorName"] = "Receipt fields"
    return step


def invoice_step() -> dict[str, Any]:
    step = extract_run(invoice_value(invoice_number=None))
    step["processorName"] = "Invoice fields"
    return step


def runs_and_listing(raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raws = {
        "inv.pdf": workflow_run("workflow_run_inv", outputs=[invoice_step()]),
        "rec.pdf": workflow_run("workflow_run_rec", outputs=[receipt_step()]),
        "both.pdf": workflow_run("workflow_run_both", outputs=[invoice_step(), receipt_step()]),
    }
    with RawRunWriter(raw_dir, chunk_size=2) as writer:  # the runs step's files, no list
        written = {key: writer.add(raw) for key, raw in raws.items()}
    rows = [
        {
            "partition": DAY, "partition_date": DAY, "bucket": "docs", "key": key,
            "etag": "e", "submission_id": "sub_1", "batch_id": "batch_1",
            "run_id": raw["id"], "status": "PROCESSED",
            "raw_uri": written[key][0], "raw_line": written[key][1],
        }
        for key, raw in raws.items()
    ]  # fmt: skip
    listed = pd.DataFrame(
        {
            "partition": [DAY] * 3,
            "partition_date": pd.to_datetime([DAY] * 3),
            "bucket": ["docs"] * 3,
            "key": list(raws),
            "etag": ["e"] * 3,
            "file_name": list(raws),
            "extension": ["pdf"] * 3,
            "skip_reason": pd.array([None] * 3, dtype="string"),
        }
    )
    return run_frame(rows), listed


def test_every_extractors_fields_reach_the_table_and_collisions_stay_apart(
    tmp_path: Path,
) -> None:
    workflow = build_extend_workflow_assets(
        name="t", workflow_id="workflow_routed", bucket="docs",
        prefix_template="d/{date}/", start_date="2025-01-01",
    )  # fmt: skip
    documents = next(
        a for a in workflow.assets
        if isinstance(a, AssetsDefinition) and a.key.path == ["t", "extend_extracted_documents"]
    )  # fmt: skip
    runs_frame, listed = runs_and_listing(tmp_path / "raw")
    daily = DailyPartitionsDefinition(start_date="2025-01-01")
    meta = {"partition_expr": "partition_date"}

    @asset(key=["t", "extend_workflow_runs"], partitions_def=daily, metadata=meta)
    def runs_stub() -> pd.DataFrame:
        return runs_frame

    @asset(key=["t", "extend_source_documents"], partitions_def=daily, metadata=meta)
    def listing_stub() -> pd.DataFrame:
        return listed

    db_path = tmp_path / "tables.duckdb"
    result = materialize(
        [runs_stub, listing_stub, documents],
        partition_key=DAY,
        resources={
            "io_manager": ExtendDuckDBIOManager(database=str(db_path)),
            "extend": ExtendResource(api_key="unused", base_url="http://127.0.0.1:9"),
        },
    )
    assert result.success
    rows = table(db_path, "extend_extracted_documents").set_index("key")
    assert sorted(rows.index) == ["both.pdf", "inv.pdf", "rec.pdf"]
    # The invoice extractor's fields...
    assert rows.loc["inv.pdf", "vendor_name"] == "Acme Supplies"
    assert float(rows.loc["inv.pdf", "total_amount"]) == 108.25
    # ...and the receipt extractor's, in the same table.
    assert rows.loc["rec.pdf", "merchant"] == "Corner Cafe"
    assert rows.loc["rec.pdf", "invoice_number"] == "R-9"
    # `total` is a currency for one extractor and a number for the other: two columns.
    assert float(rows.loc["rec.pdf", "total_receipt_fields"]) == 7.5
    assert pd.isna(rows.loc["rec.pdf", "total_amount"])
    assert float(rows.loc["both.pdf", "total_amount"]) == 108.25
    assert float(rows.loc["both.pdf", "total_receipt_fields"]) == 7.5
    assert rows.loc["both.pdf", "merchant"] == "Corner Cafe"
    assert float(rows.loc["rec.pdf", "total_receipt_fields_confidence"]) == 0.9
