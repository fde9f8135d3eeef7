"""The crash test: a submission process dies after its batch POST reached Extend but
before the answer was recorded. The next materialization finds the runs by the
submission id in their metadata, records them, and sends nothing twice."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from extend_assets.cli.demo import patched_environ
from extend_assets.cli.runner import PipelineRunner
from extend_assets.emulator import EmulatorServer
from extend_assets_tests.assets.harness import metadata_value, put_texts
from extend_assets_tests.reliability.crash import BATCH_POST, kill_a_submission_mid_post

DAY = "2025-01-15"


def table_rows(tmp_path: Path) -> list[Any]:
    import duckdb

    with duckdb.connect(str(tmp_path / "tables.duckdb"), read_only=True) as con:
        rows: list[Any] = con.execute(
            "select key, status from invoices.extend_extracted_documents"
        ).fetchall()
    return rows


@pytest.mark.slow(seconds=27)
def test_a_step_killed_mid_post_is_reconciled_not_resent(local_s3: Any, tmp_path: Path) -> None:
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    put_texts(s3, bucket, [f"d/{DAY}/doc-{i:02d}.txt" for i in range(30)])
    home = tmp_path / "home"
    home.mkdir()
    with EmulatorServer(port=0, runs_per_minute=0) as emulator:
        env = {
            **os.environ,
            **local_s3.env(),
            "DAGSTER_HOME": str(home),
            "EXTEND_BASE_URL": emulator.base_url,
            "EXTEND_API_KEY": emulator.api_key,
            "EXTEND_S3_BUCKET": bucket,
            "EXTEND_S3_PREFIX": "d/{date}/",
            "EXTEND_START_DATE": "2025-01-01",
            "EXTEND_DUCKDB_PATH": str(tmp_path / "tables.duckdb"),
        }
        kill_a_submission_mid_post(emulator, env, [DAY], tmp_path)
        assert len(emulator.submissions()) == 30  # Extend has the runs; the ledger does not
        posts_before = emulator.counters()[BATCH_POST]

        with patched_environ(env):
            from extend_assets.definitions import build_definitions

            defs = build_definitions()
            with DagsterInstance.from_config(str(home)) as instance:
                runner = PipelineRunner(defs, instance, "invoices")
                result = runner.submit([DAY])
                assert emulator.counters()[BATCH_POST] == posts_before  # reconciled, not resent
                assert metadata_value(result, "extend_workflow_batches", "documents_submitted") == 0
                assert metadata_value(result, "extend_workflow_batches", "documents_adopted") == 30
                assert len(emulator.submissions()) == 30
                # The sensor watches the adopted runs like any others.
                emulator.set_throughput(runs_per_minute=None)
                runner.settle([DAY], pause_seconds=0.05)
                assert len(table_rows(tmp_path)) == 30

                put_texts(s3, bucket, [f"d/{DAY}/late-{i}.txt" for i in range(5)])
                runner.submit([DAY])
                runner.settle([DAY], pause_seconds=0.05)
                assert len(table_rows(tmp_path)) == 35
    assert emulator.counters()[BATCH_POST] == posts_before + 1
    keys = Counter(s["metadata"]["key"] for s in emulator.submissions())
    assert len(keys) == 35 and set(keys.values()) == {1}
