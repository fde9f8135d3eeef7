"""The documents table's asset checks, on frames made by hand."""

from __future__ import annotations

import pandas as pd

from extend_assets.assets.checks import (
    completeness_check,
    failure_rate_check,
    low_confidence_check,
)


def frame(statuses: list[str], keys: list[str] | None = None) -> pd.DataFrame:
    keys = keys or [f"k{i}" for i in range(len(statuses))]
    return pd.DataFrame({"bucket": ["b"] * len(statuses), "key": keys, "status": statuses})


def value(result: object, name: str) -> object:
    return getattr(result, "metadata")[name].value  # noqa: B009


def test_completeness_fails_on_a_duplicate_a_missing_run_or_a_short_table() -> None:
    assert completeness_check(frame(["PROCESSED", "FAILED"]), expected=2).passed
    duplicated = completeness_check(frame(["PROCESSED", "PROCESSED"], ["k", "k"]), expected=2)
    assert not duplicated.passed and value(duplicated, "duplicates") == 1
    missing = completeness_check(frame(["PROCESSED", "MISSING"]), expected=2)
    assert not missing.passed and value(missing, "missing_runs") == 1
    assert not completeness_check(frame(["PROCESSED"]), expected=2).passed
    assert completeness_check(frame([]), expected=0).passed


def test_failure_rate_against_its_threshold() -> None:
    result = failure_rate_check(frame(["FAILED", "PROCESSED", "PROCESSED", "PROCESSED"]), 0.2)
    assert not result.passed and value(result, "failure_rate") == 0.25
    assert failure_rate_check(frame(["FAILED"] + ["PROCESSED"] * 9), 0.1).passed
    assert failure_rate_check(frame([]), 0.1).passed


def test_low_confidence_counts_per_field() -> None:
    table = frame(["PROCESSED"] * 3).assign(
        vendor__confidence=[0.5, 0.9, None], total__confidence=[0.95, 0.99, 0.7]
    )
    result = low_confidence_check(table, 0.8)
    assert not result.passed
    assert value(result, "by_field") == {"vendor": 1, "total": 1}
    assert low_confidence_check(table, 0.4).passed
