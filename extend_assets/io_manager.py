"""The default table storage: DuckDB through dagster-duckdb-pandas, empty partitions kept.

dagster-duckdb-pandas skips writing an empty DataFrame, so a day with no documents
would leave no table and its downstream step would fail to load its input. Here an
empty partition still creates the (empty, typed) table, and a DuckDB file named like
the schema fails with the fix instead of a binder error; everything else is the stock
``DuckDBPandasIOManager``. Any other IO manager can replace it (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from dagster import InitResourceContext, OutputContext

# No public import path exists for these in Dagster 1.13.
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from extend_assets.errors import TableLockedError, TableNameClashError


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

    @staticmethod
    @contextmanager
    def connect(context: Any, table_slice: TableSlice) -> Iterator[Any]:
        """DuckDB's connection; a file locked by another process fails naming it and the fix."""
        with ExitStack() as stack:
            try:
                connection = stack.enter_context(DuckDbClient.connect(context, table_slice))
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                database = context.resource_config.get("database", "?")
                raise locked_error(str(error), str(database)) from None
            yield connection


_LOCK_HOLDER = re.compile(r"lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def locked_error(message: str, database: str) -> TableLockedError:
    """Who holds the DuckDB file (program, PID, its command line when readable) and the fix."""
    found = _LOCK_HOLDER.search(message)
    holder = "another process"
    if found:
        holder = f"{found['program']} (PID {found['pid']})"
        try:
            argv = Path(f"/proc/{found['pid']}/cmdline").read_bytes().split(b"\0")
            holder += ": " + " ".join(a.decode(errors="replace") for a in argv if a)[:200]
        except OSError:
            pass
    return TableLockedError(
        f"The DuckDB file {database} is locked for writing by {holder}. DuckDB lets one "
        "process write a file at a time. Close that connection (a notebook or a script "
        "holding duckdb.connect(...)?), or open it with duckdb.connect(path, read_only=True) "
        "for queries; or point this IO manager at another file (EXTEND_DUCKDB_PATH)."
    )


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
