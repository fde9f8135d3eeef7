"""The bundled DuckDB IO manager takes a table in slices (``TableSlices``) and stores
what it stores of the one frame: the same columns, types and rows, an empty partition as
an empty table, a partition (or range) replaced in one transaction. Any other IO manager
gets the one DataFrame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import pytest
from dagster import (
    DailyPartitionsDefinition,
    FilesystemIOManager,
    asset,
    materialize,
)
from dagster._core.errors import DagsterExecutionHandleOutputError

from extend_assets.assets.extend_extracted_documents import DOCUMENT_FIXED_COLUMNS
from extend_assets.assets.tables import (
    BuiltTable,
    build_table,
    empty_inputs,
    output_value,
    takes_slices,
)
from extend_assets.io_manager import ExtendDuckDBIOManager, one_transaction
from extend_assets.outputs.slices import TableSlices

DAYS = DailyPartitionsDefinition(start_date="2025-01-01")
TABLES: dict[str, Any] = {}
SEEN: dict[str, Any] = {}


@asset(key_prefix="wf", partitions_def=DAYS, metadata={"partition_expr": "partition_date"})
def sliced_documents(context):  # untyped: the IO manager decides what it gets
    table: BuiltTable = TABLES[context.partition_key_range.start]
    SEEN["takes_slices"] = takes_slices(context, "io_manager")
    return output_value(table, SEEN["takes_slices"])


def _batch(day: str, keys: list[str], **columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"partition": [day] * len(keys), "key": keys, **columns})
    return frame.astype({"partition": "string", "key": "string"})


def table_of(*batches: pd.DataFrame, slice_rows: int = 2) -> BuiltTable:
    return build_table(
        list(batches), None, fixed=DOCUMENT_FIXED_COLUMNS, tally_columns=(), slice_rows=slice_rows
    )


def write(database: Path, day: str, table: BuiltTable, *, last: str | None = None) -> None:
    TABLES[day] = table
    io_manager = ExtendDuckDBIOManager(database=str(database))
    result = materialize(
        [sliced_documents],
        resources={"io_manager": io_manager},
        tags={
            "dagster/asset_partition_range_start": day,
            "dagster/asset_partition_range_end": last or day,
        },
    )
    assert result.success


def stored(database: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.sql("select * from wf.sliced_documents order by partition_date, key").df()
        types = con.sql("describe wf.sliced_documents").fetchall()
    return rows, [(str(r[0]), str(r[1])) for r in types]


def write_both_days(database: Path) -> None:
    """:func:`days_batches` stored in one ranged write (3 rows a day)."""
    table = table_of(*days_batches())
    try:
        write(database, "2025-01-14", table, last="2025-01-15")
    finally:
        table.close()


def days_batches() -> list[pd.DataFrame]:
    return [
        _batch("2025-01-14", ["a", "b"], status=["PROCESSED", "FAILED"], total=[1.5, None]),
        _batch("2025-01-14", ["c"], status=["PROCESSED"], total=[None]),
        _batch(
            "2025-01-15",
            ["d", "e", "f"],
            status=["PROCESSED"] * 3,
            total=[2.0, 3.0, None],
            note=["late", None, "x"],  # a column only in a later slice
            payload=[{"a": 1}, None, [1, 2]],  # JSON text
        ),
    ]


def test_slices_store_what_the_one_frame_stores(tmp_path: Path) -> None:
    sliced, whole = tmp_path / "sliced.duckdb", tmp_path / "whole.duckdb"
    table = table_of(*days_batches())
    try:
        assert len(list(table.slices)) == 2  # 2 rows, then 1 + 3 joined
        write(sliced, "2025-01-14", table, last="2025-01-15")
        assert SEEN["takes_slices"] is True
    finally:
        table.close()
    frame_table = table_of(*days_batches(), slice_rows=10_000)
    try:
        frame = frame_table.slices.to_frame()
        TABLES["frame"] = frame
        con = duckdb.connect(str(whole))
        con.execute("create schema wf")
        from extend_assets.io_manager import write_by_name

        write_by_name(con, "wf", "sliced_documents", frame)
        con.close()
    finally:
        frame_table.close()
    (got, got_types), (want, want_types) = stored(sliced), stored(whole)
    assert got_types == want_types
    assert ("note", "VARCHAR") in got_types and ("partition_date", "DATE") in got_types
    pd.testing.assert_frame_equal(got, want)
    assert got["key"].tolist() == ["a", "b", "c", "d", "e", "f"]
    assert got.loc[got["key"] == "d", "payload"].item() == '{"a": 1}'


def test_an_empty_partition_creates_the_table_with_its_columns(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    empty = _batch("2025-01-14", [], status=pd.Series([], dtype="string"))
    table = table_of(empty)
    try:
        assert list(table.slices) == []
        write(database, "2025-01-14", table)
    finally:
        table.close()
    rows, types = stored(database)
    assert len(rows) == 0
    assert [name for name, _ in types] == ["partition", "key", "status", "partition_date"]


def test_a_rewrite_replaces_its_partitions_only(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    write_both_days(database)
    again = table_of(_batch("2025-01-15", ["z"], status=["FAILED"]))
    try:
        write(database, "2025-01-15", again)
    finally:
        again.close()
    rows, _ = stored(database)
    assert rows["key"].tolist() == ["a", "b", "c", "z"]
    assert rows.loc[rows["key"] == "z", "note"].isna().all()  # older columns: null


class Broken(TableSlices):
    """Fails on its second slice, as a disk or a bug would."""

    def __iter__(self) -> Iterator[pd.DataFrame]:
        pieces = super().__iter__()
        yield next(pieces)
        raise OSError("the second slice is unreadable")


def test_a_failed_write_leaves_the_partition_as_it_was(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    write_both_days(database)
    before, _ = stored(database)
    broken = table_of(_batch("2025-01-15", ["x", "y", "z"], status=["FAILED"] * 3), slice_rows=1)
    broken.slices.__class__ = Broken
    TABLES["2025-01-15"] = broken
    try:
        with pytest.raises((OSError, DagsterExecutionHandleOutputError)):
            materialize(
                [sliced_documents],
                resources={"io_manager": ExtendDuckDBIOManager(database=str(database))},
                partition_key="2025-01-15",
            )
    finally:
        broken.close()
    after, _ = stored(database)
    pd.testing.assert_frame_equal(after, before)  # the delete rolled back too


def test_another_io_manager_gets_the_one_frame(tmp_path: Path) -> None:
    table = table_of(*days_batches())
    try:
        expected = table.slices.to_frame()
        TABLES["2025-01-15"] = table
        io_manager = FilesystemIOManager(base_dir=str(tmp_path))
        result = materialize(
            [sliced_documents], resources={"io_manager": io_manager}, partition_key="2025-01-15"
        )
        assert result.success
        assert SEEN["takes_slices"] is False
    finally:
        table.close()
    pickled = pd.read_pickle(tmp_path / "wf" / "sliced_documents" / "2025-01-15")
    assert isinstance(pickled, pd.DataFrame)
    pd.testing.assert_frame_equal(pickled, expected)


def step_with(**io_managers: Any) -> Any:
    """What ``takes_slices`` and ``empty_inputs`` read of a step: its resources."""
    return SimpleNamespace(resources=SimpleNamespace(**io_managers))


def bundled_and_plain() -> Any:
    return step_with(
        io_manager=ExtendDuckDBIOManager(database=":memory:").create_io_manager(None),  # type: ignore[arg-type]
        plain=FilesystemIOManager(base_dir="/tmp"),
    )


def test_only_io_managers_that_say_so_take_slices() -> None:
    step = bundled_and_plain()
    assert takes_slices(step, "io_manager")
    assert not takes_slices(step, "plain")
    assert not takes_slices(step, "unbound")
    pytest.importorskip("dagster_deltalake_pandas")
    from dagster_deltalake import LocalConfig
    from dagster_deltalake_pandas import DeltaLakePandasIOManager

    delta = DeltaLakePandasIOManager(root_uri="/tmp", storage_options=LocalConfig())
    assert not takes_slices(step_with(delta=delta), "delta")


def test_only_frames_loaded_for_the_step_alone_are_emptied() -> None:
    """The bundled IO manager loads a new frame per input, so a step may empty it; an IO
    manager that does not say so (Dagster's in-memory one hands the same object to every
    step) keeps its frames whole."""
    step = bundled_and_plain()

    def runs() -> pd.DataFrame:
        return pd.DataFrame({"run_id": ["r1", "r2"], "partition": ["2025-01-01"] * 2})

    ours, listing, shared = runs(), runs(), runs()
    empty_inputs(step, "io_manager", ours, listing)
    assert list(ours.columns) == [] and list(listing.columns) == []
    empty_inputs(step, "plain", shared)
    empty_inputs(step, "unbound", shared)
    pd.testing.assert_frame_equal(shared, runs())


def test_a_failed_commit_is_the_error_raised_not_the_rollback() -> None:
    """DuckDB ends a transaction whose commit fails: the caller must see why it failed
    (here a key another connection committed first), not "cannot rollback"."""
    database = duckdb.connect()
    database.execute("create table t (k integer primary key)")
    ours, theirs = database.cursor(), database.cursor()
    with (
        pytest.raises(duckdb.TransactionException, match="PRIMARY KEY") as raised,
        one_transaction(ours),
    ):
        ours.execute("insert into t values (1)")
        theirs.execute("insert into t values (1)")  # committed first (autocommit)
    assert "rollback" not in str(raised.value)
    assert database.execute("select count(*) from t").fetchone() == (1,)


def test_an_error_inside_the_transaction_rolls_it_back_and_is_raised() -> None:
    database = duckdb.connect()
    database.execute("create table t (k integer)")
    ours = database.cursor()
    with pytest.raises(RuntimeError, match="midway"), one_transaction(ours):
        ours.execute("insert into t values (1)")
        raise RuntimeError("midway")
    assert database.execute("select count(*) from t").fetchone() == (0,)


class Watched(TableSlices):
    """Counts, between slices, the rows another connection sees (as a reader querying
    the file during the write would)."""

    database: Path
    seen: list[int]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for frame in super().__iter__():
            yield frame  # the IO manager has written it when it asks for the next one
            with duckdb.connect(str(self.database), config={"custom_user_agent": "dagster"}) as c:
                (rows,) = c.execute("select count(*) from wf.sliced_documents").fetchall()[0]
            self.seen.append(int(rows))


def test_readers_see_the_old_partition_until_the_write_commits(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    write_both_days(database)
    three = [_batch("2025-01-15", [key], status=["FAILED"]) for key in "xyz"]
    again = table_of(*three, slice_rows=1)
    again.slices.__class__ = Watched
    watched: Any = again.slices
    watched.database, watched.seen = database, []
    try:
        write(database, "2025-01-15", again)
    finally:
        again.close()
    assert watched.seen == [6, 6, 6]  # 3 rows a day before: not one slice is visible early
    rows, _ = stored(database)
    assert rows["key"].tolist() == ["a", "b", "c", "x", "y", "z"]
