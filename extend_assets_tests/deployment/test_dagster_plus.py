"""Dagster+ gives user code no instance key-value store: dagster-cloud's run storage
answers ``get_cursor_values`` / ``set_cursor_values`` with ``NotImplementedError``.
Exactly once (across an asset wipe) and columns that follow the workflow must hold
anyway: the ledger is the event log (rebuilt from Extend after a wipe), the schema
union is the runs asset's metadata."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, RunRequest

from extend_assets_tests.assets.harness import build, metadata_value, put_texts, runner, table

DAY, LATER, EMPTY = "2025-01-15", "2025-01-16", "2025-01-17"


@pytest.fixture
def cloud_like(instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    """Our keys get dagster-cloud's answer; Dagster's own (its definitions state, which
    Dagster+ keeps elsewhere) still work locally."""
    storage = instance.run_storage
    get, put = storage.get_cursor_values, storage.set_cursor_values
    asked: list[str] = []

    def refuse_ours(keys: Any) -> None:
        ours = [k for k in keys if str(k).startswith("extend_assets")]
        asked.extend(ours)
        if ours:
            raise NotImplementedError("dagster-cloud: no key-value store for user code")

    def get_cursor_values(keys: Any) -> Any:
        refuse_ours(keys)
        return get(keys)

    def set_cursor_values(pairs: Any) -> None:
        refuse_ours(pairs)
        put(pairs)

    monkeypatch.setattr(storage, "get_cursor_values", get_cursor_values)
    monkeypatch.setattr(storage, "set_cursor_values", set_cursor_values)
    return instance


@pytest.mark.slow(seconds=26)
def test_exactly_once_across_a_wipe_and_columns_that_follow_the_workflow(
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    cloud_like: DagsterInstance,
    db_path: Path,
) -> None:
    keys = [f"docs/{DAY}/doc-{i}.txt" for i in range(5)]
    put_texts(s3_client, bucket, keys, body="Invoice Number: INV-1\nVendor Name: Acme\n")
    defs, workflow = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        review_policy="settle",
    )  # fmt: skip
    pipeline = runner(defs, cloud_like)
    first = pipeline.submit([DAY])
    assert metadata_value(first, "extend_workflow_batches", "documents_submitted") == 5
    pipeline.settle([DAY], pause_seconds=0.05)

    # Wipe every asset (the ledger's observations and the schema's metadata with them).
    cloud_like.wipe_assets([key for asset in workflow.assets for key in asset.keys])
    late = [f"docs/{DAY}/late.txt", f"docs/{LATER}/next.txt"]
    put_texts(s3_client, bucket, late, body="Invoice Number: INV-2\nVendor Name: Beta\n")
    after = pipeline.submit([DAY, LATER])
    assert metadata_value(after, "extend_workflow_batches", "documents_submitted") == 2
    assert metadata_value(after, "extend_workflow_batches", "documents_rebuilt_after_wipe") == 5
    assert Counter(s["metadata"]["key"] for s in extend_emulator.submissions()) == Counter(
        keys + late
    )
    # Rebuilt once: the next materialization reads the ledger alone.
    again = pipeline.submit([DAY, LATER])
    assert metadata_value(again, "extend_workflow_batches", "documents_rebuilt_after_wipe") == 0
    assert metadata_value(again, "extend_workflow_batches", "documents_submitted") == 0

    pipeline.settle([DAY, LATER], pause_seconds=0.05)
    pipeline.run_outputs(RunRequest(partition_key=DAY))
    pipeline.run_outputs(RunRequest(partition_key=LATER))
    pipeline.submit([EMPTY])  # an empty day after the wipe still gets the workflow's columns
    pipeline.run_outputs(RunRequest(partition_key=EMPTY))
    rows = table(db_path, "extend_extracted_documents")
    assert Counter(rows["key"]) == Counter(keys + late)
    assert {"invoice_number", "vendor_name"} <= set(rows.columns)
    assert set(rows.loc[rows["key"].isin(late), "invoice_number"]) == {"INV-2"}
    runs = cloud_like.fetch_materializations(
        AssetKey(["t", "extend_workflow_runs"]), limit=1
    ).records
    assert runs and "extend/workflow_schema" in runs[0].asset_materialization.metadata  # type: ignore[union-attr]
