"""``with_partition_date`` parses each distinct partition once and ``rows_without_runs``
walks only the rows with no run: the same frames as parsing and walking every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from extend_assets.outputs.matching import rows_without_runs, with_partition_date


@pytest.mark.parametrize("dtype", ["string[pyarrow]", object])
def test_partition_dates_are_those_of_every_row_parsed(dtype: object) -> None:
    parts = ["2025-01-15", None, "2025-01-16", "2025-01-15", "2024-02-29"]
    frame = pd.DataFrame({"partition": pd.Series(parts, dtype=dtype)}, index=[3, 5, 7, 9, 11])
    expected = pd.to_datetime(frame["partition"].astype("string"), format="%Y-%m-%d")
    got = with_partition_date(frame)
    pd.testing.assert_series_equal(got["partition_date"], expected, check_names=False)
    assert got["partition_date"].dtype == np.dtype("datetime64[ns]")
    assert "partition_date" not in frame.columns  # the caller's frame is left alone


def test_partition_dates_of_no_rows_and_of_no_partition_column() -> None:
    empty = with_partition_date(pd.DataFrame({"partition": pd.Series([], dtype="string")}))
    assert empty["partition_date"].dtype == np.dtype("datetime64[ns]") and not len(empty)
    unknown = with_partition_date(pd.DataFrame({"x": [1, 2]}))
    assert unknown["partition_date"].isna().all() and len(unknown) == 2


def test_a_bad_partition_still_raises() -> None:
    with pytest.raises(ValueError, match="doesn't match format"):
        with_partition_date(pd.DataFrame({"partition": ["2025-01-15", "soon"]}))


def test_only_rows_without_a_raw_run_become_missing_rows() -> None:
    runs = pd.DataFrame(
        {
            "partition": ["2025-01-15"] * 4,
            "bucket": ["b"] * 4,
            "key": ["k0", "k1", "k2", "k3"],
            "etag": ["e0", "e1", "e2", "e3"],
            "batch_id": ["x", None, "x", None],
            "raw_uri": pd.array(["file:///r.gz", None, "file:///r.gz", None], dtype="string"),
        }
    )
    extra = rows_without_runs(runs, None)
    assert extra["key"].tolist() == ["k1", "k3"]
    assert set(extra["status"]) == {"MISSING"} and set(extra["failure_reason"]) == {"RUN_NOT_FOUND"}
    assert len(rows_without_runs(runs.iloc[0:0], None)) == 0
