"""The default table storage: DuckDB through dagster-duckdb-pandas, empty partitions kept.

dagster-duckdb-pandas skips writing an empty DataFrame, so a day with no documents
would leave no table and its downstream step would fail to load its input. Here an
empty partition still creates the (empty, typed) table; everything else is the stock
``DuckDBPandasIOManager``. Any other IO manager can replace it (see the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from dagster import OutputContext
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb_pandas import DuckDBPandasTypeHandler


class EmptyPartitionPandasTypeHandler(DuckDBPandasTypeHandler):
    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection: Any
    ) -> None:
        if not obj.empty:
            super().handle_output(context, table_slice, obj, connection)
            return
        # DuckDB reads the local DataFrame named `obj`: this creates the typed, empty table.
        connection.execute(
            f"create table if not exists {table_slice.schema}.{table_slice.table} "
            "as select * from obj"
        )
        rows = (
            TableMetadataSet(partition_row_count=0, storage_kind="duckdb")
            if context.has_partition_key
            else TableMetadataSet(row_count=0, storage_kind="duckdb")
        )
        context.add_output_metadata(dict(rows))


class ExtendDuckDBIOManager(DuckDBIOManager):
    """``DuckDBPandasIOManager`` that also records empty partitions as empty tables."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler[Any]]:
        return [EmptyPartitionPandasTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame
