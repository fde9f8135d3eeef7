"""The default table storage: a DuckDB file named like the schema fails with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetIn, DailyPartitionsDefinition, asset, materialize

from extend_assets.errors import TableNameClashError
from extend_assets.io_manager import ExtendDuckDBIOManager


@asset(key_prefix="invoices")
def extend_extracted_documents() -> pd.DataFrame:
    return pd.DataFrame({"key": ["a.pdf"], "total": [1.5]})


def test_a_file_named_like_the_schema_names_the_clash_and_the_fix(tmp_path: Path) -> None:
    io_manager = ExtendDuckDBIOManager(database=str(tmp_path / "invoices.duckdb"))
    with pytest.raises(TableNameClashError) as raised:
        materialize([extend_extracted_documents], resources={"io_manager": io_manager})
    message = str(raised.value)
    assert "'invoices.duckdb'" in message and "schema 'invoices'" in message
    assert "invoices_tables.duckdb" in message


def test_a_distinct_file_name_stores_the_table(tmp_path: Path) -> None:
    database = tmp_path / "invoices_tables.duckdb"
    io_manager = ExtendDuckDBIOManager(database=str(database))
    assert materialize([extend_extracted_documents], resources={"io_manager": io_manager}).success

    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.sql("select key, total from invoices.extend_extracted_documents").fetchall()
    assert rows == [("a.pdf", 1.5)]


# -- columns follow the workflow, not the day: writes align by name, new fields add columns --

DAYS = DailyPartitionsDefinition(start_date="2025-01-01")
FRAMES: dict[str, pd.DataFrame] = {}


@asset(key_prefix="wf", partitions_def=DAYS, metadata={"partition_expr": "partition_date"})
def daily_documents(context) -> pd.DataFrame:  # untyped: Dagster reads the annotation
    return FRAMES[context.partition_key]


def day_frame(day: str, keys: list[str], **columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"key": keys, "status": ["PROCESSED"] * len(keys), **columns})
    frame["partition_date"] = pd.to_datetime([day] * len(keys))
    return frame.astype({"key": "string", "status": "string"})


def materialize_day(database: Path, day: str) -> None:
    io_manager = ExtendDuckDBIOManager(database=str(database))
    result = materialize([daily_documents], resources={"io_manager": io_manager}, partition_key=day)
    assert result.success


def stored(database: Path) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql("select * from wf.daily_documents order by key").df()


def test_a_day_with_fewer_columns_is_written_by_name(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    FRAMES["2025-01-14"] = day_frame(
        "2025-01-14", ["a", "b"], **{"vendor.name": ["Acme", "Bolt"], "total": [1.5, 2.0]}
    )
    failed = day_frame("2025-01-15", ["c"])
    failed["status"] = pd.array(["FAILED"], dtype="string")
    FRAMES["2025-01-15"] = failed[["status", "partition_date", "key"]]  # another order too
    materialize_day(database, "2025-01-14")
    materialize_day(database, "2025-01-15")
    rows = stored(database)
    assert list(rows["key"]) == ["a", "b", "c"]
    assert list(rows["status"]) == ["PROCESSED", "PROCESSED", "FAILED"]
    assert rows.loc[2, "vendor.name"] is None or pd.isna(rows.loc[2, "vendor.name"])
    assert list(rows["total"][:2]) == [1.5, 2.0]


def test_an_empty_first_day_then_a_new_field_widen_the_table(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    FRAMES["2025-01-13"] = day_frame("2025-01-13", [])
    FRAMES["2025-01-14"] = day_frame("2025-01-14", ["a"], total=[3.0])
    FRAMES["2025-01-15"] = day_frame("2025-01-15", ["b"], total=[4.0], po=["PO-1"])
    for day in ("2025-01-13", "2025-01-14", "2025-01-15"):
        materialize_day(database, day)
    FRAMES["2025-01-14"] = day_frame("2025-01-14", ["a", "a2"], total=[3.0, 5.0])
    materialize_day(database, "2025-01-14")  # a re-materialization replaces its partition
    rows = stored(database)
    assert list(rows["key"]) == ["a", "a2", "b"]
    assert list(rows["total"]) == [3.0, 5.0, 4.0]
    assert list(rows["po"].fillna("-")) == ["-", "-", "PO-1"]


# -- volume: slices on the way in, Arrow-backed text on the way out --

LOADED: dict[str, pd.DataFrame] = {}


@asset(key_prefix="wf", partitions_def=DAYS, metadata={"partition_expr": "partition_date"})
def big_day(context) -> pd.DataFrame:
    return FRAMES[context.partition_key]


@asset(key_prefix="wf", partitions_def=DAYS, ins={"rows": AssetIn(["wf", "big_day"])})
def reads_big_day(context, rows: pd.DataFrame) -> None:
    LOADED[context.partition_key] = rows


def test_a_partition_larger_than_one_insert_round_trips_with_arrow_text(tmp_path: Path) -> None:
    from extend_assets.flatten.coerce import TEXT
    from extend_assets.io_manager import INSERT_ROWS

    count = 2 * INSERT_ROWS + 1  # three INSERT statements
    keys = [f"doc-{n:06d}" for n in range(count)]
    frame = day_frame("2025-01-16", keys, total=[float(n) for n in range(count)])
    frame["vendor"] = pd.array([None if n % 3 == 0 else f"V{n}" for n in range(count)], dtype=TEXT)
    FRAMES["2025-01-16"] = frame
    io_manager = ExtendDuckDBIOManager(database=str(tmp_path / "tables.duckdb"))
    result = materialize(
        [big_day, reads_big_day], resources={"io_manager": io_manager}, partition_key="2025-01-16"
    )
    assert result.success
    rows = LOADED["2025-01-16"].sort_values("key", ignore_index=True)
    assert len(rows) == count and list(rows["key"]) == keys
    assert list(rows["total"]) == [float(n) for n in range(count)]
    assert rows["key"].dtype == TEXT and rows["vendor"].dtype == TEXT
    assert rows["vendor"].isna().sum() == len(range(0, count, 3))
    assert rows.loc[1, "vendor"] == "V1" and rows.loc[0, "vendor"] is pd.NA
