"""Asset checks on the documents table: completeness, failure rate, low confidence."""

from __future__ import annotations

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
)

from extend_assets.outputs.frames import MISSING, SKIPPED

# Reported beside the failure rate, not counted in it.
OTHER_OUTCOMES = ("REJECTED", "CANCELLED", MISSING)


def completeness_check(frame: pd.DataFrame, expected: int) -> AssetCheckResult:
    keys = (
        frame["bucket"].astype(str) + "/" + frame["key"].astype(str)
        if len(frame)
        else pd.Series([], dtype=str)
    )
    duplicates = int(keys.duplicated().sum())
    missing = int((frame["status"] == MISSING).sum()) if len(frame) else 0
    passed = len(frame) == expected and duplicates == 0 and missing == 0
    return AssetCheckResult(
        check_name="completeness",
        passed=passed,
        metadata={
            "expected_rows": expected,
            "rows": len(frame),
            "duplicates": duplicates,
            "missing_runs": missing,
        },
    )


def failure_rate_check(frame: pd.DataFrame, threshold: float) -> AssetCheckResult:
    """FAILED runs over the documents sent to Extend; SKIPPED (never sent) and the
    other outcomes (REJECTED in review, CANCELLED, MISSING) are reported apart."""
    statuses = frame["status"] if len(frame) else pd.Series([], dtype="string")
    failed = int((statuses == "FAILED").sum())
    skipped = int((statuses == SKIPPED).sum())
    sent = len(statuses) - skipped
    rate = failed / sent if sent else 0.0
    others = {s: int((statuses == s).sum()) for s in OTHER_OUTCOMES}
    return AssetCheckResult(
        check_name="failure_rate",
        passed=rate <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "failed": failed,
            "documents_sent": sent,
            "failure_rate": rate,
            "threshold": threshold,
            "skipped": skipped,
            "other_outcomes": MetadataValue.json({k: v for k, v in others.items() if v}),
        },
    )


def low_confidence_check(frame: pd.DataFrame, threshold: float) -> AssetCheckResult:
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]
    per_field: dict[str, int] = {}
    for column in confidence_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        low = int((values < threshold).sum())
        if low:
            per_field[str(column).removesuffix("__confidence")] = low
    total_low = sum(per_field.values())
    return AssetCheckResult(
        check_name="low_confidence_fields",
        passed=total_low == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "low_confidence_values": total_low,
            "by_field": MetadataValue.json(per_field),
            "threshold": threshold,
        },
    )
