"""Joining Extend runs back to the ledger's documents: exactly one row per document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from extend_assets import flatten
from extend_assets.client import SUBMISSION_METADATA_KEY, WorkflowRun
from extend_assets.outputs.frames import MISSING, SKIPPED
from extend_assets.submission.ledger_table import partition_date


def match_runs_to_ledger(ledger: pd.DataFrame, runs: Sequence[WorkflowRun]) -> list[dict[str, Any]]:
    """Exactly one row per ledger document: its run from its newest submission, or MISSING."""
    by_direct_id = {run.id: run for run in runs}
    by_document: dict[tuple[str, str, str, str], WorkflowRun] = {}
    for candidate in runs:
        meta = candidate.metadata or {}
        submission = str(meta.get(SUBMISSION_METADATA_KEY, ""))
        if "bucket" in meta:
            identity = (
                str(meta.get("bucket")),
                str(meta.get("key")),
                str(meta.get("etag")),
                submission,
            )
        elif "source_id" in meta:
            identity = (str(meta.get("source")), str(meta.get("source_id")), "", submission)
        else:
            continue
        by_document.setdefault(identity, candidate)
    rows: list[dict[str, Any]] = []
    for entry in ledger.itertuples(index=False):
        run: WorkflowRun | None = None
        if isinstance(entry.run_id, str):
            run = by_direct_id.get(entry.run_id)
        else:
            is_text = str(entry.bucket).startswith("text:")
            etag = "" if is_text else str(entry.etag)
            run = by_document.get(
                (str(entry.bucket), str(entry.key), etag, str(entry.submission_id))
            )
        rows.append(
            {
                "partition": entry.partition,
                "partition_date": partition_date(str(entry.partition)),
                "bucket": entry.bucket,
                "key": entry.key,
                "etag": entry.etag,
                "submission_id": entry.submission_id,
                "batch_id": run.batch_id if run is not None else entry.batch_id,
                "run_id": run.id if run is not None else None,
                "status": str(run.status) if run is not None else MISSING,
                "raw_json": json.dumps(run.raw, default=str) if run is not None else None,
            }
        )
    return rows


def sources_and_runs(
    runs_frame: pd.DataFrame,
) -> tuple[list[dict[str, Any]], dict[str, flatten.SourceRef]]:
    raws: list[dict[str, Any]] = []
    sources: dict[str, flatten.SourceRef] = {}
    for row in runs_frame.itertuples(index=False):
        if not isinstance(row.raw_json, str):
            continue
        raw = json.loads(row.raw_json)
        raws.append(raw)
        is_text = str(row.bucket).startswith("text:")
        sources[str(row.run_id)] = flatten.SourceRef(
            bucket=None if is_text else str(row.bucket),
            key=None if is_text else str(row.key),
            etag=None if is_text else str(row.etag),
            partition=str(row.partition),
            batch_id=None if pd.isna(row.batch_id) else str(row.batch_id),
            source_id=str(row.key) if is_text else None,
        )
    return raws, sources


def with_partition_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the column the IO manager partitions on (``partition_expr``)."""
    frame = frame.copy()
    partitions = (
        frame["partition"] if "partition" in frame.columns else pd.Series([], dtype="string")
    )
    frame["partition_date"] = pd.to_datetime(partitions.astype("string"), format="%Y-%m-%d")
    return frame


def rows_without_runs(runs: pd.DataFrame, listed: pd.DataFrame | None) -> pd.DataFrame:
    """Rows for documents Extend never ran: skipped at listing, or missing from Extend."""
    rows: list[dict[str, Any]] = []
    for row in runs.itertuples(index=False):
        if not isinstance(row.raw_json, str):
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
        for row in listed[listed["skip_reason"].notna()].itertuples(index=False):
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
