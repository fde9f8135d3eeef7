"""The tally's confidence numbers (one array pass per partition) are those of the
per-column, per-partition sums the steps made before, and its heads are each
partition's first rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from extend_assets.outputs.columns import ColumnInfo
from extend_assets.outputs.tally import ConfidenceNumbers, TableTally

INFOS = [
    ColumnInfo("partition"),
    ColumnInfo("status"),
    ColumnInfo("total_confidence", "total", "confidence, 0..1", confidence=True),
    ColumnInfo("vendor_confidence", "vendor", "confidence, 0..1", confidence=True),
    ColumnInfo("date_confidence", "date", "confidence, 0..1", confidence=True),
]


def _table(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    partitions = rng.choice(["2025-01-14", "2025-01-15", "2025-01-16"], size=rows)
    total = pd.array(rng.random(rows), dtype="Float64")
    total[rng.random(rows) < 0.3] = pd.NA  # nulls
    vendor = rng.random(rows)
    vendor[rng.random(rows) < 0.2] = np.nan  # NaN in a numpy column
    # an object column: numbers, numbers as text, text that is no number, None
    date = [[0.5, "0.9", "n/a", None, 0.75][i] for i in rng.integers(0, 5, size=rows).tolist()]
    return pd.DataFrame(
        {
            "partition": pd.array(partitions, dtype="string[pyarrow]"),
            "status": ["PROCESSED"] * rows,
            "total_confidence": total,
            "vendor_confidence": vendor,
            "date_confidence": pd.Series(date, dtype=object),
        }
    )


def _old_numbers(
    tables: list[pd.DataFrame], threshold: float | None
) -> dict[str | None, ConfidenceNumbers]:
    """What the tally counted before: per batch, per partition, column by column."""
    confidence = [(i.name, str(i.field)) for i in INFOS if i.confidence]
    found: dict[str | None, ConfidenceNumbers] = {}
    for table in tables:
        for key, part in table.groupby(table["partition"].astype(str), sort=False):
            numbers = ConfidenceNumbers()
            for name, path in confidence:
                values = pd.to_numeric(part[name], errors="coerce")
                present = values.dropna()
                numbers.total += float(present.sum())
                numbers.count += len(present)
                if threshold is not None:
                    low = int((values < threshold).sum())
                    if low:
                        numbers.low[path] = numbers.low.get(path, 0) + low
            found.setdefault(str(key), ConfidenceNumbers()).add(numbers)
    return found


@pytest.mark.parametrize("threshold", [None, 0.8])
def test_confidence_numbers_per_partition_are_the_per_column_sums(
    threshold: float | None,
) -> None:
    tables = [_table(seed, rows) for seed, rows in ((1, 40), (2, 1), (3, 0), (4, 25))]
    tally = TableTally(INFOS, ["partition", "status"], threshold)
    for table in tables:
        tally.add(table)
    old = _old_numbers(tables, threshold)
    assert set(old) == {"2025-01-14", "2025-01-15", "2025-01-16"}
    for key, numbers in old.items():
        got = tally.confidence(key)
        assert got.count == numbers.count
        assert got.total == pytest.approx(numbers.total, rel=1e-12)
        assert got.low == {
            p: numbers.low[p] for p in ("total", "vendor", "date") if p in numbers.low
        }
    everything = tally.confidence()
    assert everything.count == sum(n.count for n in old.values())
    assert everything.total == pytest.approx(sum(n.total for n in old.values()), rel=1e-12)
    if threshold is not None:
        assert everything.low  # the frame has low values in every column
        assert list(everything.low) == ["total", "vendor", "date"]  # column order


def test_heads_are_each_partitions_first_rows() -> None:
    tables = [_table(seed, rows) for seed, rows in ((5, 3), (6, 30))]
    tally = TableTally(INFOS, ["partition", "status"], 0.8)
    for table in tables:
        tally.add(table)
    whole = pd.concat(tables, ignore_index=True)
    empty = whole.iloc[0:0]
    pd.testing.assert_frame_equal(
        tally.head(empty).reset_index(drop=True), whole.head(5).reset_index(drop=True)
    )
    for key in ("2025-01-14", "2025-01-15", "2025-01-16"):
        expected = whole[whole["partition"] == key].head(5).reset_index(drop=True)
        pd.testing.assert_frame_equal(tally.head(empty, key).reset_index(drop=True), expected)
    assert tally.head(empty, "2025-01-01") is empty
    pd.testing.assert_frame_equal(tally.narrow(), whole[["partition", "status"]])


def test_a_table_without_partitions_or_confidence_columns() -> None:
    tally = TableTally([ColumnInfo("status")], ["status"], 0.8)
    tally.add(pd.DataFrame({"status": ["PROCESSED", "FAILED"]}))
    numbers = tally.confidence()
    assert (numbers.total, numbers.count, numbers.low, numbers.mean) == (0.0, 0, {}, None)
