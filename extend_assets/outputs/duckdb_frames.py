"""A DuckDB query's rows as a DataFrame, text columns read through Arrow in batches.

What ``fetchdf()`` followed by :func:`~extend_assets.outputs.frames.compact_text`
returns (the same columns, dtypes and values), without its peak: ``fetchdf`` makes a
Python ``str`` per text value (~60 bytes each, 100k runs x 8 text columns) and
``compact_text`` then copies them into Arrow, so both were alive at once. Here text
columns go from DuckDB's Arrow batches straight into Arrow-backed text columns
(``string[pyarrow]``); the other columns are DuckDB's own pandas conversion, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pyarrow as pa

from extend_assets.flatten.coerce import TEXT
from extend_assets.outputs.frames import compact_text

#: Rows per Arrow batch read from DuckDB: the most converted at once beside the result.
READ_BATCH_ROWS = 16_384


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_frame(connection: Any, query: str, batch_rows: int = READ_BATCH_ROWS) -> pd.DataFrame:
    """The rows of ``query`` (a ``select``) as ``compact_text(fetchdf())`` would give them.

    A text column holding a value becomes ``string[pyarrow]``; one holding none stays
    an object column of ``None``, as ``compact_text`` leaves it. Row order is the
    query's: DuckDB preserves insertion order for both reads of the same table.
    """
    relation = connection.sql(query)
    names = list(relation.columns)
    if len(set(names)) != len(names):  # not expressible by name below: as before
        return compact_text(relation.df())
    text = [n for n, kind in zip(names, relation.types, strict=True) if str(kind) == "VARCHAR"]
    if not text or not _setting(connection, "preserve_insertion_order", default=True):
        # without DuckDB's insertion order two reads need not agree row by row
        return compact_text(relation.df())
    others = [n for n in names if n not in text]
    texts = _text_columns(connection, query, text, batch_rows)
    rows = len(next(iter(texts.values())))
    frame = (
        compact_text(connection.sql(_select(query, others)).df())
        if others
        else pd.DataFrame(index=pd.RangeIndex(rows))
    )
    if len(frame) != rows:  # the table changed between the two reads
        raise RuntimeError(f"{len(frame)} rows read, then {rows}: the table changed meanwhile")
    for name in text:
        frame[name] = texts.pop(name)
    return frame[names]


@contextmanager
def _large_strings(connection: Any) -> Iterator[None]:
    """DuckDB exports text as ``large_string`` meanwhile, the type ``string[pyarrow]``
    holds, so no batch is copied into another type (and another allocator's memory)."""
    setting = "arrow_large_buffer_size"
    before = _setting(connection, setting, default=None)
    if before is None:  # a DuckDB without the setting: the batches are cast instead
        yield
        return
    connection.execute(f"set {setting} = true")
    try:
        yield
    finally:
        if not before:
            connection.execute(f"set {setting} = false")


def _setting(connection: Any, name: str, default: bool | None) -> bool | None:
    """A boolean DuckDB setting of this connection (``default`` when DuckDB has none)."""
    found = connection.execute(
        "select value from duckdb_settings() where name = ?", [name]
    ).fetchall()
    return str(found[0][0]).lower() == "true" if found else default


def _select(query: str, columns: list[str]) -> str:
    return f"select {', '.join(quoted(c) for c in columns)} from ({query})"


def _text_columns(
    connection: Any, query: str, columns: list[str], batch_rows: int
) -> dict[str, pd.Series]:
    chunks: dict[str, list[pa.Array]] = {name: [] for name in columns}
    with _large_strings(connection):
        reader = connection.sql(_select(query, columns)).to_arrow_reader(batch_rows)
        for batch in reader:
            for name, array in zip(columns, batch.columns, strict=True):
                # string[pyarrow] holds large_string (DuckDB's, as asked: no copy)
                if array.type != pa.large_string():
                    array = array.cast(pa.large_string())
                chunks[name].append(array)
    out: dict[str, pd.Series] = {}
    for name in columns:
        column = pa.chunked_array(chunks.pop(name), type=pa.large_string())
        if column.null_count == len(column):  # no value: compact_text leaves it object
            out[name] = pd.Series([None] * len(column), dtype=object)
        else:
            out[name] = pd.Series(pd.arrays.ArrowStringArray(column), dtype=TEXT)
    return out
