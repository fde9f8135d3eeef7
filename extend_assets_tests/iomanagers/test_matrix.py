"""Any IO manager, proven with four stores: the bundled DuckDB, Dagster's own
DuckDBPandasIOManager, Delta Lake on a local path and Delta Lake on the local S3.

Each goes through the same days, and each step is checked on what the store holds
(read around Dagster), never on the frames the assets returned:

- an empty first day (the table exists, with no row for it);
- a backfill of two days (one ranged run; one run per day where the IO manager stores
  one partition per output) and the sensor's grouped outputs run(s);
- an all-failed day (FAILED rows, the workflow's columns);
- a re-run of a day (its rows replaced, not doubled);
- a field added to the workflow (a new column; older rows null);
- ``partition_date`` stored as a DATE in all five tables.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, RunRequest

from extend_assets.assets import build_extend_workflow_assets
from extend_assets.assets.storage import stores_ranges
from extend_assets.cli.runner import PipelineRunError, PipelineRunner
from extend_assets_tests.assets.harness import SAMPLE_WORKFLOW_ID, put_texts, resources
from extend_assets_tests.iomanagers.stores import SCHEMA, STORES, Store, duckdb_date_type

BODY = "Invoice Number: INV-{n}\nVendor Name: Acme\nTotal: 12.50 USD\n"
EMPTY, DAY2, DAY3, FAILED, NEW_FIELD = (
    "2025-01-13",
    "2025-01-14",
    "2025-01-15",
    "2025-01-16",
    "2025-01-17",
)
TABLES = (
    "extend_source_documents",
    "extend_workflow_batches",
    "extend_workflow_runs",
    "extend_extracted_documents",
    "extend_extracted_line_items",
)


# What an IO manager is known not to do (extend_assets.assets.storage.known_gaps, whose
# warning names the fix): Dagster's DuckDBPandasIOManager creates no table for an empty
# frame and inserts by position. It runs with the internal tables on the bundled DuckDB
# (internal_io_manager_key, as the README advises), and its two gaps are checked to fail
# as the warning says, not skipped.
GAPS = {"duckdb_pandas": {"empty_day", "new_field"}}


def _add_field(emulator: Any, name: str, title: str) -> None:
    """The workflow gains a field, as when its schema is edited in Extend."""
    workflows = emulator.backend.workflows
    workflow = workflows[SAMPLE_WORKFLOW_ID]
    schema = dict(workflow.schema)
    schema["properties"] = {**schema["properties"], name: {"type": "string", "title": title}}
    workflows[SAMPLE_WORKFLOW_ID] = dataclasses.replace(workflow, schema=schema)


def _upload(s3_client: Any, bucket: str, day: str, n: int, extra: str = "") -> list[str]:
    keys = [f"d/{day}/doc-{i}.txt" for i in range(n)]
    for i, key in enumerate(keys):
        put_texts(s3_client, bucket, [key], body=BODY.format(n=i) + extra)
    return keys


def _documents(store: Store) -> Any:
    frame = store.read("extend_extracted_documents")
    frame["day"] = [str(d)[:10] for d in frame["partition_date"]]
    return frame.set_index("key")


@pytest.mark.slow(seconds=35)
@pytest.mark.parametrize("store_name", list(STORES))
def test_an_io_manager_through_the_days(
    store_name: str,
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    tmp_path: Path,
) -> None:
    store = STORES[store_name](tmp_path, local_s3)
    gaps = GAPS.get(store_name, set())
    # The bundled DuckDB under "internal" (used only where an IO manager has gaps).
    bound = {**resources(extend_emulator, local_s3, tmp_path / "internal.duckdb")}
    bound["internal"] = bound["io_manager"]
    bound["io_manager"] = store.io_manager
    workflow = build_extend_workflow_assets(
        internal_io_manager_key="internal" if gaps else None,
        name=SCHEMA,
        workflow_id=SAMPLE_WORKFLOW_ID,
        start_date="2025-01-01",
        sensor_interval_seconds=1,
        bucket=bucket,
        prefix_template="d/{date}/",
    )
    defs = workflow.to_definitions(bound)
    pipeline = PipelineRunner(defs, instance, SCHEMA)
    ranged = stores_ranges(store.io_manager) is not False

    # An empty first day: every table exists, with nothing for that day.
    pipeline.submit([EMPTY])
    pipeline.run_outputs(RunRequest(partition_key=EMPTY))
    if "empty_day" in gaps:  # the run succeeds; the analyst table is not created
        with pytest.raises(duckdb.CatalogException, match="does not exist"):
            store.read("extend_extracted_documents")
    else:
        assert len(store.read("extend_extracted_documents")) == 0
        assert len(store.read("extend_source_documents")) == 0

    # A backfill of two days, then the sensor's outputs run(s).
    days = [DAY2, DAY3]
    keys = _upload(s3_client, bucket, DAY2, 2) + _upload(s3_client, bucket, DAY3, 2)
    if ranged:
        pipeline.submit(days)
    else:
        for day in days:
            pipeline.submit([day])
    report = pipeline.settle(days, pause_seconds=0.05)
    assert report.outputs_runs == (1 if ranged else 2)
    rows = _documents(store)
    assert sorted(rows.index) == sorted(keys)
    assert set(rows["status"]) == {"PROCESSED"}
    assert set(rows["vendor_name"]) == {"Acme"}
    assert sorted(rows["day"].unique()) == days
    columns = set(rows.columns)
    assert {"invoice_number", "total_amount", "vendor_name"} <= columns
    assert "shipping_carrier" not in columns

    # An all-failed day: its rows, FAILED, and the workflow's columns.
    failed = _upload(s3_client, bucket, FAILED, 2)
    extend_emulator.set_faults(fail_rate=1.0)
    try:
        pipeline.submit([FAILED])
        pipeline.settle([FAILED], pause_seconds=0.05)
    finally:
        extend_emulator.clear_faults()
    rows = _documents(store)
    assert set(rows.loc[failed, "status"]) == {"FAILED"}
    assert set(rows.columns) == columns

    # A re-run of a day replaces its rows.
    pipeline.run_outputs(RunRequest(partition_key=DAY2))
    rows = _documents(store)
    assert len(rows) == len(keys) + len(failed)
    assert rows.index.is_unique
    assert (rows["day"] == DAY2).sum() == 2

    # A new field: a new column, filled for the new day, null for the older ones.
    _add_field(extend_emulator, "shipping_carrier", "Shipping Carrier")
    added = _upload(s3_client, bucket, NEW_FIELD, 2, extra="Shipping Carrier: DHL\n")
    pipeline.submit([NEW_FIELD])
    if "new_field" in gaps:  # the positional insert fails; the table keeps its rows
        with pytest.raises(PipelineRunError, match="columns but"):
            pipeline.settle([NEW_FIELD], pause_seconds=0.05)
        added = []
        assert "shipping_carrier" not in _documents(store).columns
    else:
        pipeline.settle([NEW_FIELD], pause_seconds=0.05)
        rows = _documents(store)
        assert set(rows.columns) == columns | {"shipping_carrier", "shipping_carrier_confidence"}
        assert set(rows.loc[added, "shipping_carrier"]) == {"DHL"}
        assert rows.loc[keys, "shipping_carrier"].isna().all()
    assert len(rows) == len(keys) + len(failed) + len(added)

    # partition_date is a DATE in all five tables.
    if gaps:  # the internal tables are in the bundled DuckDB; no line items were stored
        internal = tmp_path / "internal.duckdb"
        dates = {t: duckdb_date_type(internal, t) for t in TABLES[:3]}
        assert dates == dict.fromkeys(TABLES[:3], "date")
        assert store.date_type("extend_extracted_documents") == "date"
        return
    assert {table: store.date_type(table) for table in TABLES} == dict.fromkeys(TABLES, "date")
    assert len(store.read("extend_workflow_runs")) == len(rows)
    assert len(extend_emulator.submissions()) == len(rows)
