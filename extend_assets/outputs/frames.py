"""The frames of the runs table, and what makes any frame storable."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from extend_assets.flatten.coerce import TEXT
from extend_assets.submission.ledger_table import as_strings

RUN_COLUMNS = [
    "partition",
    "partition_date",
    "bucket",
    "key",
    "etag",
    "submission_id",
    "batch_id",
    "run_id",
    "status",
    "raw_uri",
    "raw_line",
]

# Statuses of rows for documents that never became an Extend run.
SKIPPED = "SKIPPED"
MISSING = "MISSING"


def run_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return run_frame_of(pd.DataFrame(list(rows), columns=RUN_COLUMNS))


def run_frame_of(columns: Mapping[str, Any]) -> pd.DataFrame:
    """The runs table from its columns (:data:`RUN_COLUMNS`: lists, arrays or Series)."""
    frame = pd.DataFrame(
        {name: columns[name] for name in RUN_COLUMNS}
        if not isinstance(columns, pd.DataFrame)
        else columns,
        columns=RUN_COLUMNS,
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"])
    frame["raw_line"] = frame["raw_line"].astype("Int64")
    return as_strings(frame, [c for c in RUN_COLUMNS if c not in ("partition_date", "raw_line")])


def storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Give columns DuckDB can type: all-null object columns become text, dicts JSON
    text, and text columns Arrow-backed text (:func:`compact_text`)."""
    out = frame.copy(deep=False)  # columns are replaced, never written into
    for column in out.columns:
        series = out[column]
        if series.dtype != object:
            continue
        non_null = series.dropna()
        if non_null.empty:
            out[column] = series.astype(TEXT)
        elif non_null.map(lambda v: isinstance(v, dict | list)).any():
            out[column] = series.map(
                lambda v: None if v is None else json.dumps(v, default=str)
            ).astype(TEXT)
    return compact_text(out)


def compact_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns that hold only text (and nulls) become Arrow-backed text columns."""
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string":
            frame[column] = series.astype(TEXT)
    return frame


def status_counts(statuses: Iterable[Any]) -> dict[str, int]:
    return dict(sorted(Counter(str(s) for s in statuses if s is not None and s == s).items()))
