"""The default table storage: a DuckDB file named like the schema fails with the fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import asset, materialize

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
