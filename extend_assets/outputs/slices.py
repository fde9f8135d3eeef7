"""A table as bounded DataFrame slices, typed as the one concatenated frame would be.

The documents and line-items tables are flattened a batch of runs at a time, and the
batches need not agree on dtypes: a column all null in one batch, a field absent from
another, an object column that holds text in one batch and dicts in the next. Today's
single frame settles that with ``pd.concat`` and then decides per *whole* column
(:func:`~extend_assets.outputs.frames.storable`: all-null object -> text, dicts -> JSON
text, text-only object -> Arrow text). Deciding per slice would type a column
differently from one slice to the next, so:

1. :class:`SliceUnion` spills each batch's frame to a temporary file as it comes and
   keeps, per batch, a one-row *probe* of each column (its first non-null value, or a
   null when it has none; no row for an empty batch) and what ``storable`` needs to
   know of its values. ``pd.concat`` of the probes gives the columns and dtypes the
   concatenation of the batches would have (pandas decides them by dtype, and by
   whether an entry is empty or all null).
2. :meth:`SliceUnion.aligned` reads the batches back one at a time, each with the
   union's columns in its order and cast to its dtypes, object columns settled as
   ``storable`` settles the whole column.

:class:`TableSlices` is what an IO manager that takes slices gets: re-iterable slices
with the same columns and dtypes each, the row count, and :meth:`TableSlices.to_frame`
(the one frame) for any other IO manager.

Pure pandas; no Dagster.
"""

from __future__ import annotations

import json
import pickle
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from extend_assets.flatten.coerce import TEXT

#: Rows per slice an IO manager gets (the flattened batches are joined up to this).
SLICE_ROWS = 5_000


class _Spill:
    """Frames pickled to a temporary directory, read back one at a time, in order."""

    def __init__(self, prefix: str) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix=prefix)
        self._files: list[tuple[Path, int]] = []

    def add(self, frame: pd.DataFrame) -> None:
        path = Path(self._directory.name) / f"{len(self._files):06d}.pickle"
        with path.open("wb") as out:
            pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
        self._files.append((path, len(frame)))

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for path, _ in self._files:
            with path.open("rb") as source:
                yield pickle.load(source)  # our own files, written above

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self._files)

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        self._directory.cleanup()


@dataclass
class _ObjectValues:
    """What :func:`~extend_assets.outputs.frames.storable` asks of an object column."""

    any_value: bool = False
    any_container: bool = False
    all_text: bool = True


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _values_of(column: pd.Series | Any, any_value: bool) -> _ObjectValues:
    """The batch's own values, as they would read once cast to ``object``: ``column``
    is an object column, or only the dtype of a typed one (no values needed to answer);
    ``any_value``: whether it holds a non-null value (from the batch's one null pass)."""
    if not any_value:
        return _ObjectValues()
    if not isinstance(column, pd.Series):
        return _ObjectValues(any_value=True, all_text=isinstance(column, pd.StringDtype))
    non_null = column.dropna()
    return _ObjectValues(
        any_value=True,
        any_container=bool(non_null.map(_is_container).any()),
        all_text=pd.api.types.infer_dtype(non_null, skipna=True) == "string",
    )


def _probe(frame: pd.DataFrame, present: np.ndarray) -> pd.DataFrame:
    """The few rows holding each column's first non-null value (row 0 for an all-null
    column): the batch's dtypes, and a column is all null here only if it is in the
    batch, which is all ``pd.concat`` reads to type the union. ``present``: the
    batch's ``notna()`` as an array."""
    if not len(frame):
        return frame.iloc[0:0]
    first = present.argmax(axis=0)
    return frame.iloc[sorted(set(first.tolist()))].reset_index(drop=True)


@dataclass
class SliceUnion:
    """The batches of one table, spilled as they come, and the union of their columns."""

    _spill: _Spill = field(default_factory=lambda: _Spill("extend-batches-"))
    _probes: list[pd.DataFrame] = field(default_factory=list)
    _objects: dict[Any, _ObjectValues] = field(default_factory=dict)

    def add(self, frame: pd.DataFrame) -> None:
        self._spill.add(frame)
        present = frame.notna().to_numpy()  # one pass over every column
        self._probes.append(_probe(frame, present))
        any_values = present.any(axis=0).tolist()
        for name, dtype, any_value in zip(frame.columns, frame.dtypes, any_values, strict=True):
            seen = _values_of(frame[name] if dtype == np.dtype(object) else dtype, any_value)
            total = self._objects.setdefault(name, _ObjectValues())
            total.any_value |= seen.any_value
            total.any_container |= seen.any_container
            total.all_text &= seen.all_text or not seen.any_value

    @property
    def rows(self) -> int:
        return self._spill.rows

    def dtypes(self) -> pd.Series:
        """Columns (in order) and dtypes of the batches' concatenation."""
        if not self._probes:
            return pd.Series([], dtype=object)
        with warnings.catch_warnings():
            # pandas warns that all-null entries will count in a future version; the
            # probes are concatenated exactly as the batches were, so they follow it.
            warnings.simplefilter("ignore", FutureWarning)
            return pd.concat(self._probes, ignore_index=True).dtypes

    def aligned(self) -> Iterator[pd.DataFrame]:
        """Each batch with the union's columns and dtypes, object columns settled whole."""
        dtypes = self.dtypes()
        for frame in self._spill:
            yield self._settled(_aligned(frame, dtypes), dtypes)

    def _settled(self, frame: pd.DataFrame, dtypes: pd.Series) -> pd.DataFrame:
        """What :func:`~extend_assets.outputs.frames.storable` makes of the whole column."""
        for name, dtype in dtypes.items():
            if dtype != np.dtype(object):
                continue
            values = self._objects.get(name, _ObjectValues())
            series = frame[name]
            if not values.any_value:
                frame[name] = series.astype(TEXT)
            elif values.any_container:
                frame[name] = series.map(
                    lambda v: None if v is None else json.dumps(v, default=str)
                ).astype(TEXT)
            elif values.all_text:
                frame[name] = series.astype(TEXT)
        return frame

    def close(self) -> None:
        self._spill.close()


def _aligned(frame: pd.DataFrame, dtypes: pd.Series) -> pd.DataFrame:
    """``frame`` with exactly ``dtypes``' columns and types (absent ones null), as the
    concatenation holds its rows."""
    if frame.columns.equals(dtypes.index) and frame.dtypes.equals(dtypes):
        return frame  # already the union's (the usual batch): no new frame
    columns: dict[Any, pd.Series] = {}
    for name, dtype in dtypes.items():
        if name not in frame.columns:
            columns[name] = pd.Series(index=frame.index, dtype=dtype)
            continue
        series = frame[name]
        columns[name] = series if series.dtype == dtype else series.astype(dtype)
    return pd.DataFrame(columns, index=frame.index)


class TableSlices:
    """One table as DataFrame slices of at most :data:`SLICE_ROWS` rows (re-iterable).

    Every slice has the same columns, in the same order, with the same dtypes, those of
    :meth:`empty`; :meth:`to_frame` is the table as one frame (what an IO manager that
    takes only a DataFrame gets). An empty table has no slices.
    """

    def __init__(self, empty: pd.DataFrame, spill: _Spill) -> None:
        self._empty = empty
        self._spill = spill

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter(self._spill)

    def empty(self) -> pd.DataFrame:
        """No rows: the table's columns and dtypes."""
        return self._empty.copy()

    @property
    def columns(self) -> pd.Index:
        return self._empty.columns

    @property
    def dtypes(self) -> pd.Series:
        return self._empty.dtypes

    @property
    def rows(self) -> int:
        return self._spill.rows

    def __len__(self) -> int:
        return self.rows

    def to_frame(self) -> pd.DataFrame:
        """All rows in one frame (memory grows with the table)."""
        frames = list(self._spill)
        if not frames:
            return self.empty()
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def close(self) -> None:
        """Remove the slices' files."""
        self._spill.close()

    def __repr__(self) -> str:
        return f"TableSlices(rows={self.rows}, columns={len(self.columns)})"


class SliceWriter:
    """Joins finished slices up to ``slice_rows`` rows and spills them: a :class:`TableSlices`."""

    def __init__(self, slice_rows: int = SLICE_ROWS) -> None:
        self._spill = _Spill("extend-slices-")
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._slice_rows = slice_rows
        self._empty: pd.DataFrame | None = None

    def add(self, frame: pd.DataFrame) -> None:
        if self._empty is None:
            self._empty = frame.iloc[0:0].copy()
        if not len(frame):
            return
        self._pending.append(frame)
        self._pending_rows += len(frame)
        if self._pending_rows >= self._slice_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        frame = (
            pd.concat(self._pending, ignore_index=True)
            if len(self._pending) > 1
            else self._pending[0].reset_index(drop=True)
        )
        self._pending, self._pending_rows = [], 0
        self._spill.add(frame)

    def finish(self, empty: Callable[[], pd.DataFrame]) -> TableSlices:
        """The slices; ``empty`` makes the columns of a table that got no slice at all."""
        self._flush()
        return TableSlices(self._empty if self._empty is not None else empty(), self._spill)
