"""Frames the assets store, and the metadata a person wants to see about them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from extend_assets.client import WorkflowRun
from extend_assets.ledger import DocumentVersion, PartitionLedger, Submission

LEDGER_COLUMNS = [
    "partition",
    "partition_date",
    "bucket",
    "key",
    "etag",
    "file_name",
    "submission_id",
    "batch_id",
    "run_id",
    "submitted_at",
    "reconciled",
]

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
    "raw_json",
]

# Statuses of rows for documents that never became an Extend run.
SKIPPED = "SKIPPED"
MISSING = "MISSING"


def partition_date(partition: str) -> datetime:
    return datetime.strptime(partition, "%Y-%m-%d")


def file_name_of(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def ledger_frame(
    ledgers: Iterable[PartitionLedger], keep: set[DocumentVersion] | None = None
) -> pd.DataFrame:
    """One row per submitted document version (its newest submission), limited to ``keep``."""
    rows: list[dict[str, Any]] = []
    for ledger in ledgers:
        for doc, sub in sorted(
            ledger.latest_submission_by_document().items(), key=lambda item: item[0]
        ):
            if keep is None or doc in keep:
                rows.append(ledger_row(ledger.partition, doc, sub))
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    frame["partition_date"] = pd.to_datetime(frame["partition_date"])
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], unit="s", utc=True)
    frame["reconciled"] = frame["reconciled"].astype("boolean")
    return as_strings(
        frame,
        ["partition", "bucket", "key", "etag", "file_name", "submission_id", "batch_id", "run_id"],
    )


def ledger_row(partition: str, doc: DocumentVersion, sub: Submission) -> dict[str, Any]:
    run_id = None
    if sub.run_ids and len(sub.run_ids) == len(sub.documents):
        run_id = sub.run_ids[sub.documents.index(doc)]
    return {
        "partition": partition,
        "partition_date": partition_date(partition),
        "bucket": doc.namespace,
        "key": doc.name,
        "etag": doc.version,
        "file_name": file_name_of(doc.name),
        "submission_id": sub.submission_id,
        "batch_id": sub.batch_id,
        "run_id": run_id,
        "submitted_at": sub.recorded_at,
        "reconciled": sub.reconciled,
    }


def run_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=RUN_COLUMNS)
    frame["partition_date"] = pd.to_datetime(frame["partition_date"])
    return as_strings(frame, [c for c in RUN_COLUMNS if c != "partition_date"])


def as_strings(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype("string")
    return frame


def storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Give columns DuckDB can type: all-null object columns become strings, dicts JSON."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype != object:
            continue
        non_null = series.dropna()
        if non_null.empty:
            out[column] = series.astype("string")
        elif non_null.map(lambda v: isinstance(v, dict | list)).any():
            out[column] = series.map(
                lambda v: None if v is None else json.dumps(v, default=str)
            ).astype("string")
        elif non_null.map(lambda v: isinstance(v, str)).all():
            out[column] = series.astype("string")
    return out


def status_counts(statuses: Iterable[Any]) -> dict[str, int]:
    return dict(sorted(Counter(str(s) for s in statuses if s is not None and s == s).items()))


def run_status_of(run: WorkflowRun) -> str:
    return str(run.status)


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(
        columns=[TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()]
    )


def preview(frame: pd.DataFrame, rows: int = 5, max_columns: int = 12) -> MetadataValue:
    """A Markdown preview of the first rows, with no URLs (presigned ones are credentials)."""
    head = frame.head(rows)
    head = head[[c for c in head.columns if c != "raw_json"][:max_columns]]
    head = head.map(lambda v: "<url>" if isinstance(v, str) and "://" in v and "?" in v else v)
    try:
        return MetadataValue.md(head.to_markdown(index=False))
    except ImportError:  # tabulate is optional for pandas
        return MetadataValue.md("```\n" + head.to_string(index=False) + "\n```")


def utcnow() -> datetime:
    return datetime.now(UTC)
