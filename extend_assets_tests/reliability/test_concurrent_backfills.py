"""Two overlapping backfills running at once, in two processes on one instance: every
document version reaches Extend exactly once, and ends in exactly one row."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from extend_assets.cli.demo import patched_environ
from extend_assets.cli.runner import PipelineRunner
from extend_assets.emulator import EmulatorServer
from extend_assets_tests.assets.harness import put_texts
from extend_assets_tests.reliability.concurrent import start_submission, wait_ready

BATCH_POST = "POST /workflow_runs/batch"
DAYS = ["2025-01-14", "2025-01-15", "2025-01-16"]
PER_DAY = 20


def stack_env(local_s3: Any, emulator: EmulatorServer, bucket: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        **local_s3.env(),
        "DAGSTER_HOME": str(home),
        "EXTEND_BASE_URL": emulator.base_url,
        "EXTEND_API_KEY": emulator.api_key,
        "EXTEND_S3_BUCKET": bucket,
        "EXTEND_S3_PREFIX": "d/{date}/",
        "EXTEND_START_DATE": "2025-01-01",
        "EXTEND_DUCKDB_PATH": str(home / "tables.duckdb"),
        "EXTEND_REQUESTS_PER_SECOND": "200",
    }


def run_two_backfills(
    env: dict[str, str], emulator: EmulatorServer, tmp: Path, *, stagger: bool
) -> None:
    """A over days 14-15 and B over 15-16; B starts with A, or once A's POST reached Extend."""
    go_a, go_b = tmp / "go-a", tmp / "go-b"
    with DagsterInstance.from_config(env["DAGSTER_HOME"]):
        pass  # create the storage once: two processes migrating a fresh home at once clash
    a = start_submission(env, go_a, DAYS[:2], tmp / "a.log")
    b = start_submission(env, go_b, DAYS[1:], tmp / "b.log")
    try:
        wait_ready(go_a)
        wait_ready(go_b)
        go_a.touch()
        if stagger:
            deadline = time.monotonic() + 60
            while emulator.counters().get(BATCH_POST, 0) == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
        go_b.touch()
        assert a.wait(timeout=180) == 0, (tmp / "a.log").read_text()[-3000:]
        assert b.wait(timeout=180) == 0, (tmp / "b.log").read_text()[-3000:]
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.kill()


@pytest.mark.slow(seconds=28)
@pytest.mark.parametrize("stagger", [False, True], ids=["together", "b-after-a-posts"])
def test_overlapping_backfills_in_two_processes_submit_each_document_once(
    local_s3: Any, tmp_path: Path, stagger: bool
) -> None:
    bucket = f"conc-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    keys = [f"d/{day}/doc-{i:02d}.txt" for day in DAYS for i in range(PER_DAY)]
    put_texts(s3, bucket, keys)
    home = tmp_path / "home"
    home.mkdir()
    with EmulatorServer(port=0, runs_per_minute=0) as emulator:
        env = stack_env(local_s3, emulator, bucket, home)
        # Slow answers keep both runs' POSTs in flight at once.
        emulator.set_faults(slow_seconds=0.3)
        run_two_backfills(env, emulator, tmp_path, stagger=stagger)
        emulator.clear_faults()
        submitted = Counter(str(s["metadata"]["key"]) for s in emulator.submissions())
        assert sorted(submitted) == sorted(keys)
        assert set(submitted.values()) == {1}, [k for k, n in submitted.items() if n > 1]
        assert emulator.counters()[BATCH_POST] <= 2

        emulator.set_throughput(runs_per_minute=None)
        with patched_environ(env):
            from extend_assets.definitions import build_definitions

            with DagsterInstance.from_config(str(home)) as instance:
                runner = PipelineRunner(build_definitions(), instance, "invoices")
                runner.submit(DAYS)  # a third, later run: nothing left to send
                runner.settle(DAYS, pause_seconds=0.05)
        assert len(emulator.submissions()) == len(keys)
    import duckdb

    with duckdb.connect(str(home / "tables.duckdb"), read_only=True) as con:
        rows = con.execute("select key, status from invoices.extend_extracted_documents").fetchall()
    assert Counter(key for key, _ in rows) == Counter(keys)
