"""The ledger as a table: one row per submitted document version, its newest submission."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from extend_assets.flatten.coerce import TEXT
from extend_assets.submission.ledger import DocumentVersion, PartitionLedger, Submission


def partition_date(partition: str) -> datetime:
    return datetime.strptime(partition, "%Y-%m-%d")


def file_name_of(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def as_strings(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype(TEXT)
    return frame


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
