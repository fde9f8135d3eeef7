"""Columns follow the workflow, not the day's luck: all-failed and empty days, any order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance, RunRequest

from extend_assets_tests.assets.harness import build, put_texts, runner, table

BODY = "Invoice Number: INV-1\nVendor Name: Acme\nTotal: 12.50 USD\n"


def documents(db_path: Path) -> Any:
    return table(db_path, "extend_extracted_documents").set_index("key")


def test_an_all_failed_day_after_a_good_day_keeps_its_failed_rows(
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, [f"d/2025-01-14/ok-{i}.txt" for i in range(3)], body=BODY)
    put_texts(s3_client, bucket, [f"d/2025-01-15/bad-{i}.txt" for i in range(3)], body=BODY)
    defs, _ = build(extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="d/{date}/")
    pipeline = runner(defs, instance)
    pipeline.submit(["2025-01-14"])
    pipeline.settle(["2025-01-14"], pause_seconds=0.05)
    good_columns = list(table(db_path, "extend_extracted_documents").columns)
    extend_emulator.set_faults(fail_rate=1.0)
    try:
        pipeline.submit(["2025-01-15"])
        pipeline.settle(["2025-01-15"], pause_seconds=0.05)
    finally:
        extend_emulator.clear_faults()
    rows = documents(db_path)
    assert sorted(rows.index) == sorted(
        [f"d/2025-01-14/ok-{i}.txt" for i in range(3)]
        + [f"d/2025-01-15/bad-{i}.txt" for i in range(3)]
    )
    assert rows.loc["d/2025-01-15/bad-0.txt", "status"] == "FAILED"
    assert rows.loc["d/2025-01-14/ok-0.txt", "vendor_name"] == "Acme"
    assert list(table(db_path, "extend_extracted_documents").columns) == good_columns
    # The all-failed day's own frame already had the workflow's columns.
    assert "total_amount" in _materialized_columns(instance, "2025-01-15")


def test_an_empty_day_materialized_first_does_not_break_later_days(
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    defs, _ = build(extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="d/{date}/")
    pipeline = runner(defs, instance)
    pipeline.submit(["2025-01-13"])
    pipeline.run_outputs(RunRequest(partition_key="2025-01-13"))
    assert len(table(db_path, "extend_extracted_documents")) == 0
    put_texts(s3_client, bucket, [f"d/2025-01-14/ok-{i}.txt" for i in range(4)], body=BODY)
    pipeline.submit(["2025-01-14"])
    pipeline.settle(["2025-01-14"], pause_seconds=0.05)
    rows = documents(db_path)
    assert sorted(rows.index) == [f"d/2025-01-14/ok-{i}.txt" for i in range(4)]
    assert set(rows["status"]) == {"PROCESSED"}
    assert set(rows["invoice_number"]) == {"INV-1"}
    assert len(extend_emulator.submissions()) == 4


def _materialized_columns(instance: DagsterInstance, partition: str) -> list[str]:
    from dagster import AssetKey

    record = instance.get_latest_materialization_event(
        AssetKey(["t", "extend_extracted_documents"])
    )
    assert record is not None and record.asset_materialization is not None
    assert record.asset_materialization.partition == partition
    schema: Any = record.asset_materialization.metadata["dagster/column_schema"].value
    return [column.name for column in schema.columns]
