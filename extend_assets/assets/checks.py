"""Asset checks on the documents table: completeness, failure rate, low confidence.

Dagster 1.13 records one evaluation per check per step (a partitioned evaluation
only for a single-partition step), so a ranged run evaluates each check per
partition here: the check fails when any partition fails it, and its metadata
names those partitions (``failed_partitions``) beside each one's numbers
(``by_partition``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
)

from extend_assets.outputs.frames import MISSING, SKIPPED

# Reported beside the failure rate, not counted in it.
OTHER_OUTCOMES = ("REJECTED", "CANCELLED", MISSING)

#: Digits kept for fractions shown in the UI (0.97, not 0.9699999999999999).
DIGITS = 4

# One evaluation: passed, and the numbers behind it.
Evaluation = tuple[bool, dict[str, Any]]


def failure_rate(statuses: pd.Series) -> tuple[int, int, float]:
    """(failed, sent, failed / sent): SKIPPED documents were never sent to Extend."""
    failed = int((statuses == "FAILED").sum())
    sent = len(statuses) - int((statuses == SKIPPED).sum())
    return failed, sent, failed / sent if sent else 0.0


def _by_partition(
    frame: pd.DataFrame,
    evaluate: Callable[[pd.DataFrame, str | None], Evaluation],
    partitions: list[str] | None = None,
) -> Evaluation:
    """The whole frame's evaluation, and when it spans partitions, each one's."""
    passed, metadata = evaluate(frame, None)
    if "partition" not in frame.columns:
        return passed, metadata
    keys = partitions if partitions is not None else sorted({str(p) for p in frame["partition"]})
    if len(keys) < 2:
        return passed, metadata
    column = frame["partition"].astype(str)
    results = {key: evaluate(frame[column == key], key) for key in keys}
    failed = [key for key, (ok, _) in results.items() if not ok]
    metadata["failed_partitions"] = MetadataValue.json(failed)
    metadata["by_partition"] = MetadataValue.json(
        {key: _plain(numbers) for key, (_, numbers) in results.items()}
    )
    return passed and not failed, metadata


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, MetadataValue) else v) for k, v in metadata.items()}


def rows_per_partition(frame: pd.DataFrame, partitions: Sequence[str]) -> int | dict[str, int]:
    """Rows of each partition (every one of ``partitions``), or the total when the frame
    has no ``partition`` column."""
    if "partition" not in frame.columns:
        return len(frame)
    counts = frame["partition"].astype(str).value_counts()
    return {str(p): int(counts.get(str(p), 0)) for p in partitions}


def completeness_check(frame: pd.DataFrame, expected: int | Mapping[str, int]) -> AssetCheckResult:
    """One row per listed document: ``expected`` rows (per partition when a mapping)."""
    per_partition = expected if isinstance(expected, Mapping) else None

    def evaluate(part: pd.DataFrame, partition: str | None) -> Evaluation:
        if partition is None:
            want = sum(per_partition.values()) if per_partition is not None else int(expected)  # type: ignore[arg-type]
        else:
            want = per_partition.get(partition, 0) if per_partition is not None else len(part)
        keys = (
            part["bucket"].astype(str) + "/" + part["key"].astype(str)
            if len(part)
            else pd.Series([], dtype=str)
        )
        duplicates = int(keys.duplicated().sum())
        missing = int((part["status"] == MISSING).sum()) if len(part) else 0
        numbers = {
            "expected_rows": want,
            "rows": len(part),
            "duplicates": duplicates,
            "missing_runs": missing,
        }
        return len(part) == want and duplicates == 0 and missing == 0, numbers

    partitions = sorted(per_partition) if per_partition is not None else None
    passed, metadata = _by_partition(frame, evaluate, partitions)
    return AssetCheckResult(check_name="completeness", passed=passed, metadata=metadata)


def failure_rate_check(frame: pd.DataFrame, threshold: float) -> AssetCheckResult:
    """FAILED runs over the documents sent to Extend; SKIPPED (never sent) and the
    other outcomes (REJECTED in review, CANCELLED, MISSING) are reported apart."""

    def evaluate(part: pd.DataFrame, partition: str | None) -> Evaluation:
        statuses = part["status"] if len(part) else pd.Series([], dtype="string")
        failed, sent, rate = failure_rate(statuses)
        others = {s: int((statuses == s).sum()) for s in OTHER_OUTCOMES}
        numbers: dict[str, Any] = {
            "failed": failed,
            "documents_sent": sent,
            "failure_rate": MetadataValue.float(round(rate, DIGITS)),
            "threshold": threshold,
            "skipped": int((statuses == SKIPPED).sum()),
            "other_outcomes": MetadataValue.json({k: v for k, v in others.items() if v}),
        }
        return rate <= threshold, numbers

    passed, metadata = _by_partition(frame, evaluate)
    return AssetCheckResult(
        check_name="failure_rate",
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def low_confidence_check(
    frame: pd.DataFrame,
    threshold: float,
    low_counts: Callable[[str | None], dict[str, int]] | None = None,
) -> AssetCheckResult:
    """Confidence values below ``threshold``, per field. ``low_counts``: those counts of
    one partition (None: of every row), tallied slice by slice; ``frame`` then needs
    only its ``partition`` column."""
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]

    def evaluate(part: pd.DataFrame, partition: str | None) -> Evaluation:
        per_field: dict[str, int] = {}
        if low_counts is not None:
            per_field = low_counts(partition)
        for column in confidence_columns if low_counts is None else ():
            values = pd.to_numeric(part[column], errors="coerce")
            low = int((values < threshold).sum())
            if low:
                per_field[str(column).removesuffix("__confidence")] = low
        total_low = sum(per_field.values())
        numbers = {
            "low_confidence_values": total_low,
            "by_field": MetadataValue.json(per_field),
            "threshold": threshold,
        }
        return total_low == 0, numbers

    passed, metadata = _by_partition(frame, evaluate)
    return AssetCheckResult(
        check_name="low_confidence_fields",
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        metadata=metadata,
    )
