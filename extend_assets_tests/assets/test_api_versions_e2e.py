"""The same corpus through the pipeline on API 2025-04-21 and 2026-02-09: the same tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import instance_for_test

from extend_assets.client import SUPPORTED_API_VERSIONS
from extend_assets_tests.assets.harness import build, runner, table

# What differs by nature between two runs of the same document: ids, times, links.
RUN_SPECIFIC = {
    "run_id",
    "batch_id",
    "submission_id",
    "file_id",
    "workflow_version_id",
    "created_at",
    "updated_at",
    "start_time",
    "end_time",
    "initial_run_at",
    "reviewed_at",
    "dashboard_url",
    "url",
    "raw_json",
    "raw_uri",
}


def pipeline_tables(api_version: str, tmp_path: Path) -> dict[str, pd.DataFrame]:
    from extend_assets.localstack import LocalStack

    db_path = tmp_path / f"{api_version}.duckdb"
    (tmp_path / api_version).mkdir()
    with (
        LocalStack(documents=40, days=2, seed=23, emulator_latency=0.0) as stack,
        instance_for_test(temp_dir=str(tmp_path / api_version)) as instance,
    ):
        defs, _ = build(
            stack.emulator,
            stack.s3,
            db_path,
            api_version=api_version,
            bucket=stack.bucket,
            prefix_template=f"{stack.prefix}{{date}}/",
            review_policy="settle",
        )
        partitions = sorted({doc.partition for doc in stack.documents})
        pipeline = runner(defs, instance)
        pipeline.submit(partitions)
        report = pipeline.settle(partitions, pause_seconds=0.05)
        assert set(report.settled) == set(partitions)
    documents = table(db_path, "extend_extracted_documents").sort_values("key")
    items = table(db_path, "extend_extracted_line_items")
    return {
        "extend_extracted_documents": documents,
        "extend_extracted_line_items": items.sort_values(
            [c for c in ("key", "field", "index") if c in items]
        ),
    }


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    kept = frame[[c for c in frame.columns if c not in RUN_SPECIFIC]].reset_index(drop=True)
    return kept.astype(object).where(kept.notna(), None)


@pytest.mark.slow(seconds=30)
def test_both_api_versions_give_the_same_tables(tmp_path: Path) -> None:
    assert SUPPORTED_API_VERSIONS == ("2025-04-21", "2026-02-09")
    old, new = (pipeline_tables(version, tmp_path) for version in SUPPORTED_API_VERSIONS)
    for name in old:
        assert list(old[name].columns) == list(new[name].columns), name
        assert len(old[name]) == len(new[name]) > 0, name
        left, right = comparable(old[name]), comparable(new[name])
        for column in left.columns:
            assert left[column].tolist() == right[column].tolist(), f"{name}.{column}"
