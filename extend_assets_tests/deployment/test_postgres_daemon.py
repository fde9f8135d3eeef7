"""A real deployment: PostgreSQL storage, dagster-daemon, queued runs, a pool on the API steps.

The local stack serves documents over 3 days; a backfill of the submit job over
all 3 partitions goes through the queued run coordinator (more runs than its 2 run
slots); the daemon's sensor requests the output runs. Afterwards every partition has
its tables, and at no moment did more steps of pool ``extend_api`` run than its limit
allows.

Nothing here asserts how fast that happens: the wait ends when every partition has
its tables, and fails only when nothing has progressed for ``STALL_SECONDS`` (a hang,
not a slow machine: with 10 days it passed alone in 241 s and missed a 420 s
deadline on two busy cores).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter

from extend_assets_tests.deployment.postgres import (
    PostgresServer,
    postgres_instance_yaml,
    postgres_or_skip,
)

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "invoices"
DAYS = 3  # > MAX_CONCURRENT_RUNS: the queue holds runs back
MAX_CONCURRENT_RUNS = 2
POOL = "extend_api"
POOL_LIMIT = 1
POOLED_STEPS = ("extend_workflow_batches", "extend_workflow_runs")
# A hang guard, not a speed assertion: no partition progressed for this long.
STALL_SECONDS = 600

pytestmark = [pytest.mark.timeout(3600), pytest.mark.slow(seconds=150)]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_or_skip() as server:
        yield server


def write_instance_yaml(home: Path, postgres: PostgresServer) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        postgres_instance_yaml(postgres)
        + f"""concurrency:
  runs:
    max_concurrent_runs: {MAX_CONCURRENT_RUNS}
  pools:
    default_limit: {POOL_LIMIT}
    granularity: op
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
"""
    )


def dagster_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def materialized(instance: DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(AssetKey([PREFIX, asset])))


def pooled_step_intervals(instance: DagsterInstance) -> list[tuple[float, float, str]]:
    """(start, end, step) of every step in the pool, from the shared event log."""
    starts: dict[tuple[str, str], float] = {}
    intervals: list[tuple[float, float, str]] = []
    for event_type in (
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
    ):
        records = instance.get_event_records(EventRecordsFilter(event_type=event_type), limit=5000)
        for record in records:
            entry = record.event_log_entry
            step = entry.step_key or ""
            if not step.endswith(POOLED_STEPS):
                continue
            key = (entry.run_id, step)
            if event_type == DagsterEventType.STEP_START:
                starts[key] = entry.timestamp
            else:
                intervals.append((starts.get(key, entry.timestamp), entry.timestamp, step))
    # Pair any end recorded before its start was read.
    fixed = []
    for start, end, step in intervals:
        fixed.append((min(start, end), end, step))
    return fixed


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the daemon's whole process group, then SIGKILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers (code server, run workers)


def max_overlap(intervals: list[tuple[float, float, str]]) -> int:
    edges = sorted(
        [(start, 1) for start, _, _ in intervals] + [(end, -1) for _, end, _ in intervals]
    )
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


def test_backfill_on_postgres_with_the_daemon_and_a_pool_limit(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from extend_assets.localstack import LocalStack

    home = tmp_path / "dagster_home"
    write_instance_yaml(home, postgres)
    db_path = tmp_path / "extend.duckdb"
    with LocalStack(documents=30, days=DAYS, seed=11, emulator_latency=0.01) as stack:
        partitions = sorted({doc.partition for doc in stack.documents})
        assert len(partitions) == DAYS
        env = {
            **os.environ,
            **stack.env(),
            "DAGSTER_HOME": str(home),
            "EXTEND_START_DATE": partitions[0],
            "EXTEND_DUCKDB_PATH": str(db_path),
            "EXTEND_SENSOR_INTERVAL_SECONDS": "3",
            "EXTEND_REVIEW_POLICY": "settle",
            "EXTEND_REQUESTS_PER_SECOND": "200",
        }
        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [dagster_bin("dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers stop with it
        )
        try:
            backfill = subprocess.run(
                [
                    dagster_bin("dagster"),
                    "job",
                    "backfill",
                    "-w",
                    "workspace.yaml",
                    "-j",
                    f"{PREFIX}_extend_submit",
                    "--from",
                    partitions[0],
                    "--to",
                    partitions[-1],
                    "--noprompt",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            assert backfill.returncode == 0, backfill.stdout + backfill.stderr
            instance = DagsterInstance.from_config(str(home))
            done: set[str] = set()
            progress: tuple[int, ...] = ()
            stalled_since = time.monotonic()
            while time.monotonic() - stalled_since < STALL_SECONDS:
                done = materialized(instance, "extend_extracted_documents")
                if done >= set(partitions):
                    break
                assert daemon.poll() is None, "dagster-daemon exited early; see daemon.log"
                now = (
                    len(materialized(instance, "extend_workflow_batches")),
                    len(materialized(instance, "extend_workflow_runs")),
                    len(done),
                )
                if now != progress:  # something moved: the guard starts again
                    progress, stalled_since = now, time.monotonic()
                time.sleep(2)
            assert done >= set(partitions), (
                f"outputs materialized for {sorted(done)} of {partitions}; "
                f"submitted: {sorted(materialized(instance, 'extend_workflow_batches'))}"
            )
            assert materialized(instance, "extend_workflow_batches") >= set(partitions)
            intervals = pooled_step_intervals(instance)
            assert len(intervals) >= DAYS  # one submission step per partition at least
            assert max_overlap(intervals) <= POOL_LIMIT, intervals
        finally:
            stop_group(daemon)
            log.close()

    truth = {doc.key: doc.truth["expected_status"] for doc in stack.documents}
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            f"select key, status from {PREFIX}.extend_extracted_documents"
        ).fetchall()
    # Every listed document exactly once, with the status the corpus predicts.
    assert sorted(key for key, _ in rows) == sorted(truth)
    assert {key: status for key, status in rows} == truth
