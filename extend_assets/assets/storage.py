"""What any IO manager needs from the tables' frames, and what it can store.

Every table is partitioned on ``partition_date`` (``partition_expr``), a DATE in all
five tables. A frame handed to the IO manager carries no null-typed column: an empty
day's text columns are typed as text, since Delta Lake refuses a ``void`` column and a
warehouse would otherwise guess a type from the first day.

Some IO managers store one partition per output only: Delta Lake's handler filters and
overwrites on the range's first day, and path-based ones (Dagster's filesystem and
pickle IO managers) refuse "an output associated with multiple partitions".
:func:`stores_ranges` names them so the factory gives them one run per partition
(``single_partition_runs``); a table IO manager on Dagster's ``DbIOManager`` (DuckDB,
Snowflake, BigQuery, ...) stores a range in one output.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from extend_assets.outputs.columns import as_date

PARTITION_COLUMN = "partition_date"

# Class name fragments (lower case) of IO managers that store one partition per output.
_ONE_PARTITION_PER_OUTPUT = ("deltalake", "filesystemiomanager", "pickleiomanager", "upath")
# ... and of those that store a range (their type handlers delete and insert a time window).
_RANGES = ("duckdb", "snowflake", "bigquery", "postgres", "dbiomanager")


def for_storage(frame: pd.DataFrame, *, whole_table: bool = True) -> pd.DataFrame:
    """``partition_date`` as DATE; object columns holding no value as text.

    ``whole_table=False`` for a slice of a table: whether a column holds a value is the
    whole table's business (:class:`~extend_assets.outputs.slices.SliceUnion` settles
    it), so only ``partition_date`` is converted.
    """
    frame = frame.copy(deep=False)  # columns replaced, the rest shared
    if PARTITION_COLUMN in frame.columns:
        frame[PARTITION_COLUMN] = as_date(frame[PARTITION_COLUMN])
    if not whole_table:
        return frame
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object and not series.notna().any():
            frame[column] = series.astype("string[pyarrow]")
    return frame


#: IO managers (exact class, by module and name) with known gaps, and what they break.
_GAPS = {
    ("dagster_duckdb_pandas.duckdb_pandas_type_handler", "DuckDBPandasIOManager"): (
        "Dagster's DuckDBPandasIOManager skips empty frames (an empty day's table is not "
        "created and the next step fails 'Table ... does not exist') and inserts by "
        "position (a new workflow field fails the insert: 'table ... has N columns but N+1 "
        "values were supplied'). Bind extend_assets.ExtendDuckDBIOManager(database=...) "
        "instead: the same IO manager, which creates empty tables and writes by column "
        "name; or keep at least the internal tables on it (internal_io_manager_key)."
    ),
}


def known_gaps(io_manager: Any) -> str | None:
    """What ``io_manager`` is known to break in these tables, with the fix; None: nothing."""
    cls = type(io_manager)
    return _GAPS.get((cls.__module__, cls.__name__))


def stores_ranges(io_manager: Any) -> bool | None:
    """Whether ``io_manager`` stores a range of partitions in one output; None: unknown."""
    if io_manager is None:
        return None
    names = [cls.__name__.lower() for cls in type(io_manager).__mro__]
    if any(fragment in name for name in names for fragment in _ONE_PARTITION_PER_OUTPUT):
        return False
    if any(fragment in name for name in names for fragment in _RANGES):
        return True
    return None
