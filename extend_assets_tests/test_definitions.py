"""The code location in ``workspace.yaml`` loads as Dagster loads it, calling nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "invoices"


def test_workspace_validates_with_the_dagster_cli_and_no_credentials(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EXTEND_", "AWS_", "DAGSTER_"))
    }
    # Unreachable endpoints: loading must not try to call them.
    env.update(
        DAGSTER_HOME=str(tmp_path),
        EXTEND_BASE_URL="http://127.0.0.1:9",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "extend_assets.definitions" in done.stdout + done.stderr


def test_the_code_location_holds_the_whole_flow() -> None:
    from extend_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key for key in graph.get_all_asset_keys()}
    expected = {
        AssetKey([PREFIX, name])
        for name in (
            "extend_source_documents",
            "extend_workflow_batches",
            "extend_workflow_runs",
            "extend_extracted_documents",
            "extend_extracted_line_items",
        )
    }
    assert expected <= keys
    batches = graph.get(AssetKey([PREFIX, "extend_workflow_batches"]))
    assert batches.partitions_def is not None
    assert {"extend", "s3"} <= set(batches.kinds)
    assert defs.resolve_job_def(f"{PREFIX}_extend_submit") is not None
    assert defs.resolve_job_def(f"{PREFIX}_extend_outputs") is not None
    assert defs.resolve_sensor_def(f"{PREFIX}_extend_run_status_sensor") is not None
    assert defs.resolve_schedule_def(f"{PREFIX}_extend_daily_schedule") is not None
    documents = AssetKey([PREFIX, "extend_extracted_documents"])
    check_names = {key.name for key in graph.asset_check_keys if key.asset_key == documents}
    assert {"completeness", "failure_rate", "low_confidence_fields"} <= check_names


def test_the_code_location_reads_the_completion_and_raw_run_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from extend_assets.definitions import completion_options

    for variable, value in {
        "EXTEND_COMPLETION": "webhooks",
        "EXTEND_WEBHOOK_LANDING": "s3://events/extend",
        "EXTEND_WEBHOOK_RECONCILE_AFTER_SECONDS": "600",
        "EXTEND_RAW_RUNS_DIR": "/data/raw",
        "EXTEND_RAW_RUNS_KEEP": "3",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("EXTEND_WEBHOOK_SETTLE_SECONDS", raising=False)
    assert completion_options() == {
        "completion": "webhooks",
        "webhook_landing": "s3://events/extend",
        "webhook_reconcile_after_seconds": 600.0,
        "raw_runs_dir": "/data/raw",
        "raw_runs_keep": 3,
    }
