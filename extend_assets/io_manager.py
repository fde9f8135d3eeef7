"""The default table storage: DuckDB through dagster-duckdb-pandas, empty partitions kept.

dagster-duckdb-pandas skips writing an empty DataFrame, so a day with no documents
would leave no table and its downstream step would fail to load its input. Here an
empty partition still creates the (empty, typed) table, and a DuckDB file named like
the schema fails with the fix instead of a binder error; everything else is the stock
``DuckDBPandasIOManager``. Any other IO manager can replace it (see the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import InitResourceContext, OutputContext

# No public import path exists for these in Dagster 1.13.
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from extend_assets.errors import TableNameClashError


class CheckedDuckDbClient(DuckDbClient):
    """Turns DuckDB's 'Ambiguous reference to catalog or schema' into an error with the fix.

    DuckDB names an attached database after its file, so ``invoices.duckdb`` is the
    catalog ``invoices``; the factory's ``name="invoices"`` is also the schema, and
    ``invoices.extend_extracted_documents`` then means two things.
    """

    @staticmethod
    def ensure_schema_exists(
        context: OutputContext, table_slice: TableSlice, connection: Any
    ) -> None:
        file = Path(table_slice.database or ":memory:")
        catalog = file.stem
        if catalog.lower() == table_slice.schema.lower():
            raise TableNameClashError(
                f"The DuckDB file {file.name!r} is named like the schema "
                f"{table_slice.schema!r} (the factory's name), so DuckDB cannot tell the two apart. "
                f"Rename the file (e.g. EXTEND_DUCKDB_PATH=.../{catalog}_tables.duckdb) or choose "
                "another factory name."
            )
        DuckDbClient.ensure_schema_exists(context, table_slice, connection)


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

    def create_io_manager(self, context: InitResourceContext) -> DbIOManager:
        return DbIOManager(
            db_client=CheckedDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="ExtendDuckDBIOManager",
        )
