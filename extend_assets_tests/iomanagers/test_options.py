"""The IO manager options without a pipeline run: which key stores which table, one run
per partition (chosen or forced), typed frames, and the warning for Dagster's DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from extend_assets import ExtendDuckDBIOManager, build_extend_workflow_assets
from extend_assets.assets.storage import for_storage, known_gaps, stores_ranges
from extend_assets_tests.sensing.dagster_fixtures import make_defs, submit
from extend_assets_tests.sensing.fakes import FakeExtend

TABLES = (
    "extend_source_documents",
    "extend_workflow_batches",
    "extend_workflow_runs",
    "extend_extracted_documents",
    "extend_extracted_line_items",
)


def _delta(tmp_path: Path) -> Any:
    from dagster_deltalake import LocalConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    return DeltaLakePandasIOManager(root_uri=str(tmp_path), storage_options=LocalConfig())


def _bound(io_manager: Any, **more: Any) -> dict[str, Any]:
    """``io_manager`` and stand-ins for the Extend and S3 resources (nothing runs)."""
    none = dg.ResourceDefinition.none_resource()
    return {"io_manager": io_manager, "extend": none, "documents": none, **more}


def _assets(defs: dg.Definitions) -> dict[str, dg.AssetsDefinition]:
    repo = defs.get_repository_def()
    return {key.path[-1]: a for key, a in repo.assets_defs_by_key.items()}


def test_internal_tables_use_their_own_io_manager_and_kind(tmp_path: Path) -> None:
    workflow = build_extend_workflow_assets(
        workflow_id="w", bucket="b", internal_io_manager_key="internal"
    )
    defs = workflow.to_definitions(
        _bound(
            _delta(tmp_path / "lake"),
            internal=ExtendDuckDBIOManager(database=str(tmp_path / "internal.duckdb")),
        )
    )
    assets = _assets(defs)
    keys = {name: a.get_io_manager_key_for_asset_key(a.key) for name, a in assets.items()}
    assert keys == {
        "extend_source_documents": "internal",
        "extend_workflow_batches": "internal",
        "extend_workflow_runs": "internal",
        "extend_extracted_documents": "io_manager",
        "extend_extracted_line_items": "io_manager",
    }
    kinds = {name: next(iter(a.specs)).kinds for name, a in assets.items()}
    assert "delta" in kinds["extend_extracted_documents"]
    assert "duckdb" in kinds["extend_workflow_runs"]
    assert "duckdb" not in kinds["extend_extracted_documents"]
    # Delta among the bound IO managers: one run per partition for every asset.
    assert {a.backfill_policy.max_partitions_per_run for a in assets.values()} == {1}  # type: ignore[union-attr]


@pytest.mark.parametrize("forced", [True, False])
def test_single_partition_runs_set_by_hand_wins(tmp_path: Path, forced: bool) -> None:
    workflow = build_extend_workflow_assets(
        workflow_id="w", bucket="b", single_partition_runs=forced
    )
    defs = workflow.to_definitions(_bound(_delta(tmp_path)))
    policies = {a.backfill_policy.max_partitions_per_run for a in _assets(defs).values()}  # type: ignore[union-attr]
    assert policies == ({1} if forced else {None})


def test_ranged_runs_stay_for_a_database_io_manager(tmp_path: Path) -> None:
    workflow = build_extend_workflow_assets(workflow_id="w", bucket="b")
    defs = workflow.to_definitions(
        _bound(ExtendDuckDBIOManager(database=str(tmp_path / "t.duckdb")))
    )
    assert {a.backfill_policy.max_partitions_per_run for a in _assets(defs).values()} == {None}  # type: ignore[union-attr]


def test_which_io_managers_store_ranges(tmp_path: Path) -> None:
    from dagster_duckdb_pandas import DuckDBPandasIOManager

    assert stores_ranges(ExtendDuckDBIOManager(database="x.duckdb")) is True
    assert stores_ranges(DuckDBPandasIOManager(database="x.duckdb")) is True
    assert stores_ranges(_delta(tmp_path)) is False
    assert stores_ranges(dg.FilesystemIOManager()) is False
    assert stores_ranges(object()) is None
    assert stores_ranges(None) is None


def test_dagster_duckdb_pandas_is_bound_with_a_warning_naming_the_fix(tmp_path: Path) -> None:
    from dagster_duckdb_pandas import DuckDBPandasIOManager

    io_manager = DuckDBPandasIOManager(database=str(tmp_path / "t.duckdb"))
    assert known_gaps(ExtendDuckDBIOManager(database="x.duckdb")) is None
    workflow = build_extend_workflow_assets(workflow_id="w", bucket="b")
    with pytest.warns(UserWarning, match="ExtendDuckDBIOManager"):
        workflow.to_definitions(_bound(io_manager))


def test_every_table_partitions_on_partition_date() -> None:
    workflow = build_extend_workflow_assets(workflow_id="w", bucket="b")
    specs = {a.key.path[-1]: next(iter(a.specs)) for a in workflow.assets}
    assert set(specs) == set(TABLES)
    assert {s.metadata["partition_expr"] for s in specs.values()} == {"partition_date"}


def test_frames_carry_a_date_and_no_null_typed_column() -> None:
    frame = pd.DataFrame(
        {
            "partition_date": pd.to_datetime(["2025-01-14", "2025-01-15"]),
            "batch_id": [None, None],
            "n": [1, 2],
        }
    )
    stored = for_storage(frame)
    assert list(stored["partition_date"]) == [dt.date(2025, 1, 14), dt.date(2025, 1, 15)]
    assert str(stored["partition_date"].dtype) == "date32[day][pyarrow]"
    assert str(stored["batch_id"].dtype) == "string"
    assert stored["n"].tolist() == [1, 2]
    empty = for_storage(pd.DataFrame({"partition_date": [], "key": pd.Series([], dtype=object)}))
    assert str(empty["partition_date"].dtype) == "date32[day][pyarrow]"
    assert str(empty["key"].dtype) == "string"
    assert "partition_date" in frame and frame["partition_date"].dtype.kind == "M"  # unchanged


def test_the_sensor_asks_one_run_per_partition_when_told() -> None:
    from dagster import DagsterInstance

    from extend_assets_tests.test_sensor_builder import evaluate

    fake = FakeExtend()
    defs = make_defs(lambda: fake.now, ranged_runs=False)
    with DagsterInstance.ephemeral() as instance:
        batch, run_ids = fake.add_batch(6, "2025-01-02")
        submit(instance, ["2025-01-02", "2025-01-03", "2025-01-04"], [batch], 6, fake.now)
        cursor = evaluate(defs, instance, fake, None).cursor
        fake.advance(10)
        fake.set_status(run_ids, "PROCESSED")
        requests = evaluate(defs, instance, fake, cursor).run_requests or []
    assert sorted(r.partition_key or "" for r in requests) == [
        "2025-01-02",
        "2025-01-03",
        "2025-01-04",
    ]
    assert len({r.run_key for r in requests}) == 3
