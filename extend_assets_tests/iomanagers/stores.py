"""The IO managers of the matrix, each with a way to read a table back from its store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from extend_assets.io_manager import ExtendDuckDBIOManager

#: The factory name of the matrix's workflow: the tables' schema (DuckDB) or folder (Delta).
SCHEMA = "t"


@dataclass
class Store:
    """An IO manager and a reader of its tables that goes around Dagster."""

    name: str
    io_manager: Any
    read: Callable[[str], pd.DataFrame]
    """The whole table, as stored."""
    date_type: Callable[[str], str]
    """The stored type of the table's ``partition_date``, lower case."""


def duckdb_date_type(path: Path, table: str) -> str:
    """The stored type of ``partition_date`` in a DuckDB file's table, lower case."""
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "select data_type from information_schema.columns where table_schema = ? "
            "and table_name = ? and column_name = 'partition_date'",
            [SCHEMA, table],
        ).fetchone()
    return str(row[0]).lower() if row else "missing"


def _duckdb_reader(path: Path) -> tuple[Callable[[str], pd.DataFrame], Callable[[str], str]]:
    def read(table: str) -> pd.DataFrame:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(f"select * from {SCHEMA}.{table}").fetchdf()

    return read, lambda table: duckdb_date_type(path, table)


def extend_duckdb(tmp_path: Path, s3: Any) -> Store:
    path = tmp_path / "tables.duckdb"
    return Store("extend_duckdb", ExtendDuckDBIOManager(database=str(path)), *_duckdb_reader(path))


def dagster_duckdb_pandas(tmp_path: Path, s3: Any) -> Store:
    from dagster_duckdb_pandas import DuckDBPandasIOManager

    path = tmp_path / "tables.duckdb"
    return Store("duckdb_pandas", DuckDBPandasIOManager(database=str(path)), *_duckdb_reader(path))


def _delta_store(name: str, root: str, io_manager: Any, options: dict[str, str]) -> Store:
    from deltalake import DeltaTable

    def read(table: str) -> pd.DataFrame:
        return DeltaTable(f"{root}/{SCHEMA}/{table}", storage_options=options).to_pandas()

    def date_type(table: str) -> str:
        schema = DeltaTable(f"{root}/{SCHEMA}/{table}", storage_options=options).schema()
        field = next(f for f in schema.fields if f.name == "partition_date")
        return str(getattr(field.type, "type", field.type)).lower()

    return Store(name, io_manager, read, date_type)


def delta_local(tmp_path: Path, s3: Any) -> Store:
    from dagster_deltalake import LocalConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    root = str(tmp_path / "delta")
    manager = DeltaLakePandasIOManager(root_uri=root, storage_options=LocalConfig())
    return _delta_store("delta_local", root, manager, {})


def delta_s3(tmp_path: Path, s3: Any) -> Store:
    """Delta on the local S3: an endpoint, plain HTTP, and unsafe renames (one writer)."""
    from dagster_deltalake import S3Config
    from dagster_deltalake.config import ClientConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3.boto3_client().create_bucket(Bucket=bucket)
    env = s3.env()
    config = S3Config(
        endpoint=s3.endpoint_url,
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_DEFAULT_REGION"],
        allow_unsafe_rename=True,
    )
    root = f"s3://{bucket}/tables"
    manager = DeltaLakePandasIOManager(
        root_uri=root, storage_options=config, client_options=ClientConfig(allow_http=True)
    )
    return _delta_store("delta_s3", root, manager, {**config.str_dict(), "allow_http": "true"})


STORES = {
    "extend_duckdb": extend_duckdb,
    "duckdb_pandas": dagster_duckdb_pandas,
    "delta_local": delta_local,
    "delta_s3": delta_s3,
}
