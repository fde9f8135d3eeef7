"""The default table storage: DuckDB through dagster-duckdb-pandas, aligned by name.

dagster-duckdb-pandas inserts a frame *by position* into a table created by whichever
partition came first, and skips empty frames. A day's frame need not have the table's
columns (an all-failed day has no extracted fields; a new schema field appears one
day), so here every write:

- creates the table when missing (also for an empty frame, so downstream steps load
  an empty frame instead of failing);
- adds each column the frame has and the table lacks (``ALTER TABLE ADD COLUMN``);
- inserts *by name*: the table's other columns are null for these rows.

A DuckDB file named like the schema fails with the fix instead of a binder error.
Any other IO manager can replace this one (the README says what it must do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pandas as pd
from dagster import InitResourceContext, InputContext, OutputContext, TimeWindow

# No public import path exists for these in Dagster 1.13.
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.errors import DagsterInvalidMetadata
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from extend_assets.errors import TableLockedError, TableNameClashError
from extend_assets.outputs.duckdb_frames import read_frame
from extend_assets.outputs.slices import TableSlices


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
    def get_table_name(table_slice: TableSlice) -> str:
        """``catalog.schema.table`` as DuckDB names it (the catalog is the file's stem),
        the name a query uses; not the file path glued to the schema."""
        catalog = Path(table_slice.database).stem if table_slice.database else "memory"
        return f"{catalog}.{table_slice.schema}.{table_slice.table}"

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


def quoted(name: str) -> str:
    """A DuckDB identifier: column names hold dots (``vendor.name``)."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(connection: Any, schema: str, table: str) -> list[str]:
    rows = connection.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [str(row[0]) for row in rows]


#: Rows per INSERT: DuckDB buffers what one statement reads, so a partition of 100k
#: documents goes in slices (its write took ~150 MiB here instead of ~270 in one).
INSERT_ROWS = 10_000


def write_by_name(connection: Any, schema: str, table: str, frame: pd.DataFrame) -> list[str]:
    """Create, widen and append to ``schema.table`` so no write depends on column order.

    Returns the columns added to an existing table. DuckDB reads the local DataFrame
    named ``obj`` in the statements below.
    """
    obj = frame  # noqa: F841 (read by DuckDB's replacement scan below)
    target = f"{schema}.{table}"
    connection.execute(f"create table if not exists {target} as select * from obj limit 0")
    existing = set(table_columns(connection, schema, table))
    added: list[str] = []
    for name, kind, *_ in connection.execute("describe select * from obj").fetchall():
        if str(name) not in existing:
            connection.execute(f"alter table {target} add column {quoted(str(name))} {kind}")
            added.append(str(name))
    insert_by_name(connection, schema, table, frame)
    return added


def insert_by_name(connection: Any, schema: str, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``schema.table`` by column name (the table has its columns)."""
    target = f"{schema}.{table}"
    columns = ", ".join(quoted(str(c)) for c in frame.columns)
    for start in range(0, len(frame), INSERT_ROWS):
        obj = frame.iloc[start : start + INSERT_ROWS]  # noqa: F841 (read by DuckDB)
        connection.execute(f"insert into {target} ({columns}) select {columns} from obj")


class EmptyPartitionPandasTypeHandler(DuckDBPandasTypeHandler):
    """Writes by column name, widening the table; an empty frame still creates it."""

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection: Any
    ) -> None:
        added = write_by_name(connection, table_slice.schema, table_slice.table, obj)
        if added:
            context.log.info(
                f"Added {len(added)} column(s) to {table_slice.schema}.{table_slice.table}: "
                f"{', '.join(added[:20])}{' ...' if len(added) > 20 else ''}."
            )
        rows = (
            TableMetadataSet(partition_row_count=len(obj), storage_kind="duckdb")
            if context.has_partition_key
            else TableMetadataSet(row_count=len(obj), storage_kind="duckdb")
        )
        context.add_output_metadata(dict(rows))

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection: Any
    ) -> pd.DataFrame:
        """As DuckDB returns it, text columns Arrow-backed (a third of the memory), read
        through Arrow in batches (:func:`~extend_assets.outputs.duckdb_frames.read_frame`:
        the frame ``compact_text(fetchdf())`` gave, without its Python strings)."""
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()  # as DuckDBPandasTypeHandler.load_input
        return read_frame(connection, DuckDbClient.get_select_statement(table_slice))


class PartitionQueriesDbIOManager(DbIOManager):
    """Gives each partition of a ranged write its own ``Query`` (Dagster's spans the range);
    takes a table as :class:`~extend_assets.outputs.slices.TableSlices` too."""

    #: The documents and line-items assets hand this IO manager their tables in slices.
    takes_table_slices = True
    #: Every ``load_input`` returns a new DataFrame: those assets may empty their inputs.
    loads_fresh_frames = True

    def handle_output(self, context: OutputContext, obj: object) -> None:
        if isinstance(obj, TableSlices):
            self._handle_slices(context, obj)
        else:
            super().handle_output(context, obj)
        if not context.has_asset_partitions or len(context.asset_partition_keys) < 2:
            return
        table_slice = self._get_table_slice(context, context)
        for partition, query in partition_queries(
            self._db_client, table_slice, context.asset_partitions_def, context.asset_partition_keys
        ).items():
            context.step_context.add_asset_metadata(
                {"Query": query}, asset_key=context.asset_key, partition_key=partition
            )

    def _handle_slices(self, context: OutputContext, table: TableSlices) -> None:
        """As ``DbIOManager.handle_output`` does for a frame, slice by slice, in one
        transaction: the partition range deleted, the table created from the slices'
        columns (also with no rows) and widened by the first slice, every slice appended
        by name (they share the first one's columns and dtypes)."""
        table_slice = self._get_table_slice(context, context)
        schema, name = table_slice.schema, table_slice.table
        with self._db_client.connect(context, table_slice) as connection:
            self._db_client.ensure_schema_exists(context, table_slice, connection)
            limited = _limit_write_memory(context, connection, len(table.columns))
            with one_transaction(connection):
                if table_columns(connection, schema, name):  # a failed delete aborts it
                    self._db_client.delete_table_slice(context, table_slice, connection)
                # Created (or widened) by the first slice, as the one frame would have
                # been: DuckDB types an object column from the frame's first rows.
                added: list[str] | None = None
                for frame in table:
                    if added is None:
                        added = write_by_name(connection, schema, name, frame)
                    else:  # every slice has the first one's columns and dtypes
                        insert_by_name(connection, schema, name, frame)
                if added is None:  # no rows: the table as the slices' columns make it
                    added = write_by_name(connection, schema, name, table.empty())
            if limited:
                connection.execute("reset memory_limit")
        if added:
            context.log.info(
                f"Added {len(added)} column(s) to {schema}.{name}: "
                f"{', '.join(added[:20])}{' ...' if len(added) > 20 else ''}."
            )
        rows = (
            TableMetadataSet(partition_row_count=table.rows, storage_kind="duckdb")
            if context.has_partition_key
            else TableMetadataSet(row_count=table.rows, storage_kind="duckdb")
        )
        context.add_output_metadata(
            {**dict(rows), "Query": self._db_client.get_select_statement(table_slice)}
        )
        with suppress(DagsterInvalidMetadata):
            context.add_output_metadata(
                dict(TableMetadataSet(table_name=self._db_client.get_table_name(table_slice)))
            )


@contextmanager
def one_transaction(connection: Any) -> Iterator[None]:
    """The block's statements in one DuckDB transaction, committed at its end.

    On any error the transaction is rolled back, the connection closed
    (``DuckDbClient.connect`` closes it on success only) and *that* error raised. A
    commit that fails (a constraint violated by a concurrent write, out of memory)
    has already ended the transaction, so the rollback's own "no transaction is
    active" must not replace it.
    """
    connection.execute("begin transaction")
    try:
        yield
        connection.execute("commit")
    except BaseException:
        with suppress(duckdb.TransactionException):
            connection.execute("rollback")
        connection.close()
        raise


#: DuckDB's memory limit while it writes a table in slices (MiB; per column, at least
#: the floor), unless ``connection_config`` sets ``memory_limit``. Its buffer pool keeps
#: every block written until the connection closes, so without a limit a write's memory
#: grows with the table (~1.9 KiB per row of 50 columns here) up to 80% of the machine.
WRITE_MEMORY_FLOOR_MIB = 64
WRITE_MEMORY_PER_COLUMN_MIB = 1


def _limit_write_memory(context: OutputContext, connection: Any, columns: int) -> bool:
    """Bound DuckDB's memory for this write; False when the user chose a limit."""
    resource_config: dict[str, Any] = dict(context.resource_config or {})
    config: dict[str, Any] = resource_config.get("connection_config") or {}
    if "memory_limit" in config:
        return False
    mib = max(WRITE_MEMORY_FLOOR_MIB, columns * WRITE_MEMORY_PER_COLUMN_MIB)
    connection.execute(f"set memory_limit = '{mib}MiB'")
    return True


def partition_queries(
    client: Any, table_slice: TableSlice, partitions_def: Any, keys: Sequence[str]
) -> dict[str, str]:
    """The select statement of each partition alone (one partition dimension only)."""
    dimensions = table_slice.partition_dimensions or []
    if len(dimensions) != 1:
        return {}
    dimension = dimensions[0]
    out: dict[str, str] = {}
    for key in keys:
        window = (
            partitions_def.time_window_for_partition_key(key)
            if isinstance(dimension.partitions, TimeWindow)
            else [key]
        )
        alone = table_slice._replace(partition_dimensions=[dimension._replace(partitions=window)])
        out[key] = client.get_select_statement(alone)
    return out


class ExtendDuckDBIOManager(DuckDBIOManager):
    """``DuckDBPandasIOManager`` that also records empty partitions as empty tables, and
    takes the documents and line-items tables in slices (``TableSlices``)."""

    #: Read by the documents and line-items assets: hand this IO manager slices.
    takes_table_slices: ClassVar[bool] = True
    #: Read by the documents and line-items assets: every ``load_input`` returns a new
    #: DataFrame, so they may empty their inputs before the write.
    loads_fresh_frames: ClassVar[bool] = True

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler[Any]]:
        return [EmptyPartitionPandasTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context: InitResourceContext) -> DbIOManager:
        return PartitionQueriesDbIOManager(
            db_client=CheckedDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="ExtendDuckDBIOManager",
        )
