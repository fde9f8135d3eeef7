"""The bulk paths of the analyst columns read what the value-by-value ones read:
DECIMAL from float columns of at most four decimals, DATE from date-time columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from extend_assets.outputs.columns import (
    DECIMAL_TYPE,
    _exact_decimals,
    _to_decimal,
    as_date,
    as_decimal,
)


def _one_by_one(values: np.ndarray) -> list[object]:
    return [_to_decimal(v) for v in values]


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6, 1e10, 9.9e10])
def test_floats_of_four_decimals_are_read_in_bulk_as_one_by_one(scale: float) -> None:
    rng = np.random.default_rng(int(scale) % 1000)
    places = 10.0 ** rng.integers(0, 5, 20_000)
    values = np.round(rng.uniform(-scale, scale, 20_000) * places) / places
    values[::7] = np.nan
    series = pd.Series(values, dtype="Float64")
    series[::11] = pd.NA
    assert _exact_decimals(series) is not None  # the bulk path is the one tested
    got = as_decimal(series)
    assert got.dtype == pd.ArrowDtype(DECIMAL_TYPE)
    expected = _one_by_one(series.to_numpy(dtype="float64", na_value=np.nan))
    assert [None if v is pd.NA else v for v in got.tolist()] == expected


@pytest.mark.parametrize(
    "values",
    [
        [0.1, 0.00005, 2.0],  # five decimals: rounded half-even as its text reads
        [1.00005, None],
        [1e12 + 0.5],  # beyond where doubles are 0.0001 apart
        [float("inf"), 1.5],
        [-0.0, 3.25],
    ],
)
def test_other_floats_read_as_one_by_one(values: list[float | None]) -> None:
    series = pd.Series(values, dtype="float64")
    got = [None if v is pd.NA else v for v in as_decimal(series).tolist()]
    assert got == _one_by_one(series.to_numpy())


def test_text_and_integer_columns_keep_the_value_by_value_path() -> None:
    assert _exact_decimals(pd.Series(["1.50", None], dtype=object)) is None
    assert _exact_decimals(pd.Series([1, None], dtype="Int64")) is None
    got = as_decimal(pd.Series(["1.50", None, "x"], dtype=object)).tolist()
    assert got[0] == _to_decimal("1.50") and got[1] is pd.NA and got[2] is pd.NA


def test_date_time_columns_become_dates_as_parsed_ones_do() -> None:
    stamps = pd.Series(
        pd.to_datetime(["2025-01-01", None, "2024-02-29T23:30:00"], format="ISO8601")
    )
    zoned = stamps.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    for series in (stamps, zoned, stamps.astype("datetime64[s]")):
        assert as_date(series).tolist() == as_date(series.astype(object)).tolist()
        assert as_date(series).dtype == as_date(series.astype(object)).dtype
