"""The documents and line-items tables built slice by slice, and what their IO manager gets.

A table is built from the flattened batches (:func:`~extend_assets.outputs.stream.flatten_batches`)
without ever holding all its rows: each batch is aligned to the union of the batches'
columns and dtypes (:class:`~extend_assets.outputs.slices.SliceUnion`), typed for
analysts (:func:`~extend_assets.outputs.columns.analyst_frame`), tallied for the
metadata and checks (:class:`~extend_assets.outputs.tally.TableTally`) and spilled to a
temporary file. The rows, columns and dtypes are those of the one frame the steps built
before (the flattened batches concatenated, then typed), slice for slice.

What the IO manager gets (:func:`output_value`): an IO manager that says it takes slices
(``takes_table_slices = True`` on the IO manager object, as the bundled
:class:`~extend_assets.io_manager.ExtendDuckDBIOManager` does) gets the
:class:`~extend_assets.outputs.slices.TableSlices`; any other gets one DataFrame
(``TableSlices.to_frame()``), as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from extend_assets.assets.storage import for_storage
from extend_assets.outputs.columns import ColumnInfo, analyst_frame
from extend_assets.outputs.matching import with_partition_date
from extend_assets.outputs.slices import SLICE_ROWS, SliceUnion, SliceWriter, TableSlices
from extend_assets.outputs.tally import TableTally

#: Columns the documents table's metadata and checks read of every row.
DOCUMENT_TALLY_COLUMNS = (
    "partition",
    "status",
    "bucket",
    "key",
    "usage_credits",
    "created_at",
    "end_time",
)
#: ... and the line-items table's.
LINE_ITEM_TALLY_COLUMNS = ("partition", "status")

#: The columns the table steps read of their inputs, asked of the IO manager as the
#: inputs' ``columns`` metadata: one built on Dagster's ``DbIOManager`` (DuckDB,
#: Snowflake, BigQuery, Delta Lake) loads only these, any other loads every column.
RUNS_COLUMNS_READ = [
    "partition",
    "bucket",
    "key",
    "etag",
    "batch_id",
    "run_id",
    "status",
    "raw_uri",
]
LISTING_COLUMNS_READ = ["partition", "bucket", "key", "etag", "extension", "skip_reason"]


@dataclass
class BuiltTable:
    """A table's slices, its column descriptions and what its metadata and checks read."""

    slices: TableSlices
    infos: list[ColumnInfo]
    tally: TableTally

    def close(self) -> None:
        self.slices.close()


def build_table(
    batches: Iterable[pd.DataFrame],
    schema: dict[str, Any] | None,
    *,
    fixed: Sequence[str],
    line_items: bool = False,
    tally_columns: Sequence[str],
    low_confidence_threshold: float | None = None,
    slice_rows: int = SLICE_ROWS,
) -> BuiltTable:
    """The table of ``batches`` (flattened frames, in order; at least one)."""
    union = SliceUnion()
    writer = SliceWriter(slice_rows)
    try:
        for batch in batches:
            union.add(batch)
        infos: list[ColumnInfo] | None = None
        tally: TableTally | None = None
        for aligned in union.aligned():
            table, infos = analyst_frame(
                with_partition_date(aligned), schema, fixed=fixed, line_items=line_items
            )
            table = for_storage(table, whole_table=False)
            if tally is None:
                tally = TableTally(infos, tally_columns, low_confidence_threshold)
            tally.add(table)
            writer.add(table)
    except BaseException:
        writer.finish(pd.DataFrame).close()
        raise
    finally:
        union.close()
    if tally is None or infos is None:  # no batch: not what flatten_batches yields
        raise ValueError("build_table needs at least one batch (an empty frame for no rows)")
    return BuiltTable(writer.finish(pd.DataFrame), infos, tally)


def takes_slices(context: Any, io_manager_key: str) -> bool:
    """Whether the IO manager bound to ``io_manager_key`` takes a ``TableSlices``."""
    return _io_manager_says(context, io_manager_key, "takes_table_slices")


def loads_fresh_frames(context: Any, io_manager_key: str) -> bool:
    """Whether the IO manager bound to ``io_manager_key`` loads every input as a new
    DataFrame that only the loading step holds (``loads_fresh_frames = True`` on the IO
    manager object, as the bundled one says): then a step may empty its inputs."""
    return _io_manager_says(context, io_manager_key, "loads_fresh_frames")


def _io_manager_says(context: Any, io_manager_key: str, attribute: str) -> bool:
    try:
        io_manager = getattr(context.resources, io_manager_key)
    except Exception:  # not a resource of this step: it says nothing
        return False
    return bool(getattr(io_manager, attribute, False))


def empty_inputs(context: Any, io_manager_key: str, *frames: pd.DataFrame) -> None:
    """Drop every column of the step's input ``frames``, in place, once the step has
    read them, if their IO manager loaded them for this step alone.

    Dagster keeps a step's inputs until the step ends, so without this the runs table
    and the listing (about 60 MiB at 100k documents) stay beside the table's write.
    An IO manager that may hand the same object to another step (Dagster's in-memory
    one) does not say ``loads_fresh_frames``, and its frames are left as they are.
    Nothing else may refer to their columns (a ``.str`` accessor's cycle would keep a
    column until a full garbage collection, see ``raw_runs.any_on_s3``).
    """
    if not loads_fresh_frames(context, io_manager_key):
        return
    for frame in frames:
        frame.drop(columns=list(frame.columns), inplace=True)


def output_value(built: BuiltTable, sliced: bool) -> TableSlices | pd.DataFrame:
    """The slices for an IO manager that takes them, else the table as one DataFrame."""
    return built.slices if sliced else built.slices.to_frame()
