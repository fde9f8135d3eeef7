"""Joining Extend runs back to the ledger's documents: exactly one row per document."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from extend_assets import flatten
from extend_assets.outputs.frames import MISSING, SKIPPED


def source_refs(runs_frame: pd.DataFrame) -> dict[str, flatten.SourceRef]:
    """The source document of each run of the runs table (ids only, no raw JSON)."""
    sources: dict[str, flatten.SourceRef] = {}
    columns = [
        runs_frame[name].astype(object).tolist()
        for name in ("run_id", "bucket", "key", "etag", "partition", "batch_id")
    ]
    for run_id, bucket, key, etag, partition, batch_id in zip(*columns, strict=True):
        if not isinstance(run_id, str):
            continue
        is_text = str(bucket).startswith("text:")
        sources[run_id] = flatten.SourceRef(
            bucket=None if is_text else str(bucket),
            key=None if is_text else str(key),
            etag=None if is_text else str(etag),
            partition=str(partition),
            batch_id=None if pd.isna(batch_id) else str(batch_id),
            source_id=str(key) if is_text else None,
        )
    return sources


def with_partition_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the column the IO manager partitions on (``partition_expr``)."""
    frame = frame.copy(deep=False)  # one column added; the rest shared
    if "partition" not in frame.columns:
        frame["partition_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        return frame
    # Each distinct partition parsed once (a batch holds one or a few, in thousands of rows).
    codes, keys = pd.factorize(frame["partition"].astype("string"))
    dates = pd.to_datetime(pd.Series(keys, dtype="string"), format="%Y-%m-%d").to_numpy()
    values = np.full(len(codes), np.datetime64("NaT"), dtype="datetime64[ns]")
    found = codes >= 0  # null partitions: no date, as parsed
    values[found] = dates[codes[found]]
    frame["partition_date"] = pd.Series(values, index=frame.index)
    return frame


def _without_raw_file(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows whose ``raw_uri`` is no text: only they are walked (a missing run is rare)."""
    uris = runs["raw_uri"]
    if uris.dtype == object:  # any value: the loop below tells text apart
        return runs
    return _rows_at(runs, uris.isna().to_numpy())


def _rows_at(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame[mask]`` without copying every Arrow text column whole: a boolean mask,
    or taking rows of a column in many chunks, concatenates its chunks first (~19 MiB
    at 100,000 runs, which Arrow's allocator keeps), even to select no row."""
    if not mask.any():
        return frame.iloc[0:0]  # a slice: no copy
    return frame.iloc[np.flatnonzero(mask)]


def rows_without_runs(runs: pd.DataFrame, listed: pd.DataFrame | None) -> pd.DataFrame:
    """Rows for documents Extend never ran: skipped at listing, or missing from Extend."""
    rows: list[dict[str, Any]] = []
    for row in _without_raw_file(runs).itertuples(index=False):
        if not isinstance(row.raw_uri, str):
            rows.append(
                {
                    "partition": row.partition,
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "batch_id": row.batch_id,
                    "status": MISSING,
                    "failure_reason": "RUN_NOT_FOUND",
                    "failure_message": "The ledger holds this document but Extend returned no run for it.",
                }
            )
    if listed is not None and "skip_reason" in listed.columns:
        skipped = _rows_at(listed, listed["skip_reason"].notna().to_numpy())
        for row in skipped.itertuples(index=False):
            rows.append(
                {
                    "partition": row.partition,
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "status": SKIPPED,
                    "failure_reason": str(row.skip_reason).upper(),
                    "failure_message": f"Not submitted: {row.skip_reason} ({row.extension or 'no extension'}).",
                }
            )
    return pd.DataFrame(rows)
