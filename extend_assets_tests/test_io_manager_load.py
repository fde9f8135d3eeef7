"""The bundled DuckDB IO manager loads an input as ``compact_text(fetchdf())`` did (the
same columns, dtypes, values and order), its text columns read through Arrow in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from dagster import AssetIn, DailyPartitionsDefinition, asset, materialize

from extend_assets.assets.storage import for_storage
from extend_assets.io_manager import ExtendDuckDBIOManager, write_by_name
from extend_assets.outputs.duckdb_frames import read_frame
from extend_assets.outputs.frames import compact_text, run_frame
from extend_assets.submission.ledger_table import ledger_frame
from extend_assets.submission.listing import source_frame

DAYS = DailyPartitionsDefinition(start_date="2025-01-01")
DAY = "2025-01-15"


def runs(count: int, day: str = DAY) -> pd.DataFrame:
    """A runs table as the runs step stores it: some runs missing (no uri, no line)."""
    rows = [
        {
            "partition": day,
            "partition_date": day,
            "bucket": "b",
            "key": f"d/{day}/{n}.txt",
            "etag": f"e{n}",
            "submission_id": "s1",
            "batch_id": f"batch_{n // 7}",
            "run_id": None if n % 5 == 0 else f"run_{day}_{n}",
            "status": "MISSING" if n % 5 == 0 else "PROCESSED",
            "raw_uri": None if n % 5 == 0 else f"file:///raw/runs-{n // 3}.jsonl.gz",
            "raw_line": None if n % 5 == 0 else n % 3,
        }
        for n in range(count)
    ]
    return for_storage(run_frame(rows))


def listing(count: int) -> pd.DataFrame:
    return for_storage(
        source_frame(
            {
                "partition": DAY,
                "partition_date": DAY,
                "bucket": "b",
                "key": f"d/{DAY}/{n}.{'txt' if n % 4 else 'exe'}",
                "etag": f"e{n}",
                "size": n,
                "last_modified": pd.Timestamp(DAY, tz="UTC"),
                "file_name": f"{n}.txt",
                "extension": "txt" if n % 4 else "exe",
                "skip_reason": None if n % 4 else "unsupported_extension",
            }
            for n in range(count)
        )
    )


def ledger() -> pd.DataFrame:
    return for_storage(ledger_frame([]))


def old_load(connection: Any, query: str) -> pd.DataFrame:
    return compact_text(connection.execute(query).fetchdf())


@pytest.mark.parametrize(
    "frame",
    [runs(1000), runs(0), listing(300), ledger(), runs(3).assign(empty=None)],
    ids=["runs", "no-runs", "listing", "empty-ledger", "all-null-column"],
)
def test_read_frame_equals_fetchdf_then_compact_text(frame: pd.DataFrame) -> None:
    with duckdb.connect() as connection:
        connection.execute("create schema t")
        write_by_name(connection, "t", "x", frame)
        query = "select * from t.x where partition_date >= '2025-01-01'"
        new = read_frame(connection, query, batch_rows=64)
        old = old_load(connection, query)
    assert list(new.columns) == list(old.columns)
    assert new.dtypes.to_dict() == old.dtypes.to_dict()
    pd.testing.assert_frame_equal(new, old)


def test_text_columns_are_read_in_batches_of_at_most_batch_rows() -> None:
    with duckdb.connect() as connection:
        connection.execute("create schema t")
        write_by_name(connection, "t", "runs", runs(1000))
        frame = read_frame(connection, "select * from t.runs", batch_rows=100)
    column = frame["key"].array._pa_array
    assert column.num_chunks >= 10
    assert max(len(chunk) for chunk in column.chunks) <= 100
    assert frame["key"].tolist() == [f"d/{DAY}/{n}.txt" for n in range(1000)]


def test_read_frame_without_text_columns_or_only_text_columns() -> None:
    with duckdb.connect() as connection:
        connection.execute("create table n as select range as i, range * 0.5 as f from range(5)")
        connection.execute("create table s as select 'v' || range as v from range(5)")
        for query in ("select * from n", "select * from s", "select i, i as i from n"):
            pd.testing.assert_frame_equal(
                read_frame(connection, query), old_load(connection, query)
            )


@asset(key_prefix="wf", partitions_def=DAYS, metadata={"partition_expr": "partition_date"})
def stored_runs(context) -> pd.DataFrame:
    return runs(500, context.partition_key)


LOADED: dict[str, pd.DataFrame] = {}


@asset(
    key_prefix="wf",
    partitions_def=DAYS,
    ins={"stored_runs": AssetIn(key_prefix="wf")},
    metadata={"partition_expr": "partition_date"},
)
def downstream(context, stored_runs: pd.DataFrame) -> pd.DataFrame:
    LOADED[context.partition_key] = stored_runs
    return stored_runs.head(0)


def test_an_input_loads_through_the_io_manager_as_before(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    resources = {"io_manager": ExtendDuckDBIOManager(database=str(database))}
    for day in (DAY, "2025-01-16"):
        assert materialize([stored_runs], resources=resources, partition_key=day).success
    assert materialize(
        [stored_runs, downstream], resources=resources, partition_key=DAY, selection=[downstream]
    ).success
    loaded = LOADED[DAY]
    with duckdb.connect(str(database)) as connection:
        old = old_load(
            connection, "select * from tables.wf.stored_runs where partition_date = '2025-01-15'"
        )
    pd.testing.assert_frame_equal(loaded, old)
    assert len(loaded) == 500 and set(loaded["partition"]) == {DAY}
    assert str(loaded["key"].dtype) == "string" and loaded["raw_line"].dtype == "Int64"


def test_the_connections_arrow_setting_is_left_as_it_was() -> None:
    with duckdb.connect() as connection:
        connection.execute("create schema t")
        write_by_name(connection, "t", "runs", runs(10))
        setting = "select value from duckdb_settings() where name = 'arrow_large_buffer_size'"
        for value in ("false", "true"):
            connection.execute(f"set arrow_large_buffer_size = {value}")
            read_frame(connection, "select * from t.runs")
            assert connection.execute(setting).fetchall() == [(value,)]


def test_without_insertion_order_the_rows_are_read_in_one_query() -> None:
    with duckdb.connect() as connection:
        connection.execute("create schema t")
        write_by_name(connection, "t", "runs", runs(300))
        connection.execute("set preserve_insertion_order = false")
        query = "select * from t.runs"
        frame = read_frame(connection, query, batch_rows=16)
        pd.testing.assert_frame_equal(
            frame.sort_values("key").reset_index(drop=True),
            old_load(connection, query).sort_values("key").reset_index(drop=True),
        )
        assert frame["key"].array._pa_array.num_chunks < 300 // 16  # one read, not batches
