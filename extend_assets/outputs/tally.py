"""What the tables' metadata and checks read, gathered slice by slice.

The metadata and checks of the documents and line-items tables need a few columns of
every row (partition, status, bucket and key for duplicates, credits, run times) and,
of the confidence columns, only sums and counts per partition. :class:`TableTally`
keeps those few columns (``narrow``), the confidence numbers per partition and the
first rows of the table and of each partition (the previews), so the slices
themselves need not stay in memory.

Pure pandas; no Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from extend_assets.outputs.columns import ColumnInfo

#: Rows kept for the previews.
HEAD_ROWS = 5


@dataclass
class ConfidenceNumbers:
    """Confidence values of some rows: their sum and count, and the low ones per field."""

    total: float = 0.0
    count: int = 0
    low: dict[str, int] = field(default_factory=dict)

    def add(self, other: ConfidenceNumbers) -> None:
        self.total += other.total
        self.count += other.count
        for name, n in other.low.items():
            self.low[name] = self.low.get(name, 0) + n

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


class TableTally:
    """The narrow columns of every row, confidence numbers per partition, and the heads."""

    def __init__(
        self,
        infos: Sequence[ColumnInfo],
        narrow_columns: Sequence[str],
        low_threshold: float | None = None,
    ) -> None:
        self._confidence = [(i.name, str(i.field)) for i in infos if i.confidence]
        self._narrow_columns = list(narrow_columns)
        self._threshold = low_threshold
        self._parts: list[pd.DataFrame] = []
        self._numbers: dict[str | None, ConfidenceNumbers] = {}
        self._heads: dict[str, list[pd.DataFrame]] = {}
        self._head: list[pd.DataFrame] = []
        self._head_rows = 0

    def add(self, table: pd.DataFrame) -> None:
        self._parts.append(table[[c for c in self._narrow_columns if c in table.columns]])
        if self._head_rows < HEAD_ROWS and len(table):
            self._head.append(table.head(HEAD_ROWS - self._head_rows))
            self._head_rows += len(self._head[-1])
        values = self._confidence_values(table)
        if "partition" not in table.columns:
            self._numbers.setdefault(None, ConfidenceNumbers()).add(self._numbers_of(values))
            return
        # As ``groupby(partition.astype(str), sort=False)``: keys in order of appearance,
        # null keys left out; one pass over the confidence values per partition.
        codes, keys = pd.factorize(table["partition"].astype(str), sort=False)
        for code, key in enumerate(keys.tolist()):
            key = str(key)
            rows = np.flatnonzero(codes == code)
            chosen = values if len(rows) == len(table) else values[rows]
            self._numbers.setdefault(key, ConfidenceNumbers()).add(self._numbers_of(chosen))
            heads = self._heads.setdefault(key, [])
            held = sum(len(h) for h in heads)
            if held < HEAD_ROWS:
                heads.append(table.iloc[rows[: HEAD_ROWS - held]])

    def _confidence_values(self, table: pd.DataFrame) -> np.ndarray:
        """The confidence columns as one float array (rows x columns), unreadable as NaN."""
        if not self._confidence:
            return np.empty((len(table), 0))
        return np.column_stack([_floats(table[name]) for name, _ in self._confidence])

    def _numbers_of(self, values: np.ndarray) -> ConfidenceNumbers:
        """Sum, count and (per field) low values of some rows' confidence values."""
        numbers = ConfidenceNumbers()
        present = ~np.isnan(values)
        numbers.total = float(np.where(present, values, 0.0).sum(axis=0).sum())
        numbers.count = int(present.sum())
        if self._threshold is not None:
            with np.errstate(invalid="ignore"):
                low = (values < self._threshold).sum(axis=0)
            for (_, path), n in zip(self._confidence, low.tolist(), strict=True):
                if n:
                    numbers.low[path] = numbers.low.get(path, 0) + int(n)
        return numbers

    def narrow(self) -> pd.DataFrame:
        """The narrow columns of every row, in order."""
        if not self._parts:
            return pd.DataFrame(columns=self._narrow_columns)
        return pd.concat(self._parts, ignore_index=True)

    def confidence(self, partition: str | None = None) -> ConfidenceNumbers:
        """The numbers of one partition; None: of every row. Fields in column order."""
        chosen = [n for key, n in self._numbers.items() if partition is None or key == partition]
        out = ConfidenceNumbers()
        for numbers in chosen:
            out.add(numbers)
        order = [path for _, path in self._confidence]
        out.low = {path: out.low[path] for path in dict.fromkeys(order) if path in out.low}
        return out

    def head(self, empty: pd.DataFrame, partition: str | None = None) -> pd.DataFrame:
        """The first rows of the table (of one partition), ``empty`` when it has none."""
        frames = self._head if partition is None else self._heads.get(partition, [])
        if not frames:
            return empty
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _floats(column: pd.Series) -> np.ndarray:
    """A column's numbers as floats, NaN where there is none (text read as numbers)."""
    if column.dtype.kind not in "fiu":  # text, objects, booleans: as pd.to_numeric reads them
        column = pd.to_numeric(column, errors="coerce")
    return column.to_numpy(dtype="float64", na_value=np.nan)
