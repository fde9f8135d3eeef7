"""A step per container, as ``k8s_job_executor`` / ``docker_executor`` deploy it.

Every step of the submit job and of the outputs job runs in a process of its own
(``step_location``: Dagster's step-delegating executor starting ``dagster api
execute_step``), with an empty working directory, ``TMPDIR``, ``HOME`` and
``DAGSTER_HOME``; run workers too. They share only what a deployment shares: the local
S3 (documents and raw runs, ``raw_runs_dir=s3://...``), PostgreSQL (the instance) and the
warehouse (one DuckDB file). Then:

1. the documents step fails once; "re-execute from failure" in a brand-new run worker
   runs it again in a new container (its input, the runs, read from the warehouse and
   the raw files from S3) and succeeds;
2. the raw files are deleted from S3; the documents table alone is re-materialized in
   new containers, the runs fetched again from Extend.

The rows equal those of a one-machine run of the same corpus (in process, SQLite, local
raw files, a separate emulator and S3), each document once with the status its sample
predicts, and no document version was submitted twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, RunRequest

from extend_assets.cli.runner import PipelineRunner, partitions_of, range_tags
from extend_assets.localstack import LocalStack
from extend_assets_tests.deployment.postgres import (
    PostgresServer,
    postgres_instance_yaml,
    postgres_or_skip,
)
from extend_assets_tests.deployment.step_location import (
    CONTAINERS_ROOT,
    fresh_dirs,
)

# The bundled IO manager refusing the documents table (a warehouse outage, in one run).
REFUSE_DOCUMENTS = "extend_assets_tests.deployment.failing_write:refuse_documents"
REPO = Path(__file__).resolve().parents[2]
NAME = "invoices"  # the bundled code location's workflow name
DOCUMENTS = AssetKey([NAME, "extend_extracted_documents"])
# 14 documents over 2 days: the corpus's hard cases (failed, skipped, needs review) included.
CORPUS: dict[str, Any] = {"documents": 14, "days": 2, "seed": 21, "emulator_latency": 0.0}
# Columns that name this run, not the document's outcome: they differ between deployments.
VOLATILE = {"run_id", "batch_id", "created_at", "start_time", "end_time"}

STEP_OUTCOMES = {
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
}

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_or_skip() as server:
        yield server


def location_env(stack: LocalStack, db_path: Path, raw_runs_dir: str, start: str) -> dict[str, str]:
    """What every container of the deployment is configured with (its env, e.g. a ConfigMap)."""
    return {
        **stack.env(),
        "EXTEND_START_DATE": start,
        "EXTEND_DUCKDB_PATH": str(db_path),
        "EXTEND_RAW_RUNS_DIR": raw_runs_dir,
        "EXTEND_REVIEW_POLICY": "settle",
        "EXTEND_REQUESTS_PER_SECOND": "500",
        "EXTEND_SENSOR_INTERVAL_SECONDS": "1",
    }


class Deployment:
    """Starts run workers in new containers; they start a new container per step."""

    def __init__(self, root: Path, dagster_yaml: str, env: dict[str, str]) -> None:
        self.root, self.dagster_yaml, self.env = root, dagster_yaml, env
        self.workers = 0

    def run(self, spec: dict[str, Any], **extra_env: str) -> dict[str, Any]:
        self.workers += 1
        dirs = fresh_dirs(self.root / f"worker-{self.workers}")
        (dirs["dagster_home"] / "dagster.yaml").write_text(self.dagster_yaml)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            **self.env,
            CONTAINERS_ROOT: str(self.root / "steps"),
            "TMPDIR": str(dirs["tmp"]),
            "HOME": str(dirs["home"]),
            "DAGSTER_HOME": str(dirs["dagster_home"]),
            **extra_env,
        }
        done = subprocess.run(
            [sys.executable, "-m", "extend_assets_tests.deployment.run_worker", json.dumps(spec)],
            cwd=dirs["cwd"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        # The worker's log (Dagster's events) beside its directories, for a failing CI run.
        (self.root / f"worker-{self.workers}.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def step_dirs(self) -> list[Path]:
        return sorted((self.root / "steps").iterdir())

    def working_dirs(self) -> list[Path]:
        """The working directory of every container started (run workers and steps)."""
        return sorted(self.root.glob("*/cwd")) + sorted(self.root.glob("steps/*/cwd"))


def outputs_spec(request: RunRequest) -> dict[str, Any]:
    tags = {k: v for k, v in (request.tags or {}).items() if k.startswith("dagster/")}
    if request.partition_key:
        tags["dagster/partition"] = request.partition_key
    return {"job": f"{NAME}_extend_outputs", "tags": tags}


def settled_requests(runner: PipelineRunner, partitions: list[str]) -> list[RunRequest]:
    """Tick the run-status sensor (the daemon's part) until it asked for every partition."""
    requests: list[RunRequest] = []
    covered: set[str] = set()
    for _ in range(300):
        for request in runner.tick().run_requests or []:
            requests.append(request)
            covered |= set(partitions_of(request, partitions))
        if covered >= set(partitions):
            return requests
        time.sleep(0.2)  # a pause between ticks; bounded by the count, not asserted
    raise AssertionError(f"the sensor asked for {sorted(covered)} of {partitions}")


def executed_steps(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> its final event (STEP_SUCCESS / STEP_FAILURE / STEP_SKIPPED)."""
    outcome: dict[str, str] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.step_key and event.event_type in STEP_OUTCOMES:
            outcome[event.step_key.split("__")[-1]] = event.event_type.value
    return outcome


def step_worker_pids(instance: DagsterInstance) -> list[str]:
    """The pid of every step worker of every run ("Step worker started")."""
    pids = []
    for run in instance.get_runs():
        records = instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.STEP_WORKER_STARTED
        ).records
        for record in records:
            event = record.event_log_entry.dagster_event
            metadata = getattr(event.event_specific_data if event else None, "metadata", {})
            pid = metadata.get("pid")
            pids.append(str(getattr(pid, "value", pid)))
    return pids


def documents_table(db_path: Path) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as con:
        frame = con.execute(f"select * from {NAME}.extend_extracted_documents").fetchdf()
    return frame.sort_values("key").reset_index(drop=True)


def stable(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns that describe the document and its extraction, not this deployment's run."""
    return frame[[c for c in frame.columns if c not in VOLATILE]].reset_index(drop=True)


def one_machine_reference(
    tmp_path: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> pd.DataFrame:
    """The same corpus through the same location, in one process with local raw files
    (a stack of its own: same bucket name and bytes, its own emulator)."""
    from extend_assets.definitions import build_definitions

    with LocalStack(**CORPUS) as stack:
        partitions = sorted({doc.partition for doc in stack.documents})
        db_path = tmp_path / "reference.duckdb"
        env = location_env(stack, db_path, str(tmp_path / "reference-raw"), partitions[0])
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            runner = PipelineRunner(build_definitions(), instance, NAME)
            runner.submit(partitions)
            assert runner.settle(partitions, pause_seconds=0.05, max_ticks=600).settled
        return documents_table(db_path)


@pytest.mark.slow(seconds=65)
def test_every_step_in_its_own_container(
    postgres: PostgresServer,
    tmp_path: Path,
    instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from extend_assets.definitions import build_definitions

    reference = one_machine_reference(tmp_path, instance, monkeypatch)

    database = f"per_step_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    dagster_yaml = postgres_instance_yaml(postgres, database)
    with LocalStack(**CORPUS) as stack:
        s3 = stack.s3.boto3_client()
        raw_bucket = f"raw-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=raw_bucket)
        partitions = sorted({doc.partition for doc in stack.documents})
        assert len(partitions) == CORPUS["days"]
        db_path = tmp_path / "warehouse" / "extend.duckdb"
        db_path.parent.mkdir()
        env = location_env(stack, db_path, f"s3://{raw_bucket}/extend/raw", partitions[0])
        deployment = Deployment(tmp_path / "containers", dagster_yaml, env)

        # The submit job over both days, one run (a UI backfill), a container per step.
        submit = deployment.run({"job": f"{NAME}_extend_submit", "tags": range_tags(partitions)})
        assert submit["success"], submit

        # The daemon's part, here in the test process: the sensor on the shared instance.
        assert stack.emulator.wait_idle(timeout=300), "the emulator's runs did not settle"
        home = tmp_path / "daemon_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(dagster_yaml)
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            shared = DagsterInstance.from_config(str(home))
            runner = PipelineRunner(build_definitions(), shared, NAME)
            requests = settled_requests(runner, partitions)

        # 1. The first outputs run: the documents step fails (its write is refused) ...
        first, *others = requests
        failed = deployment.run(outputs_spec(first), EXTEND_IO_MANAGER=REFUSE_DOCUMENTS)
        assert not failed["success"]
        assert executed_steps(shared, failed["run_id"]) == {
            "extend_workflow_runs": "STEP_SUCCESS",
            "extend_extracted_documents": "STEP_FAILURE",
            "extend_extracted_line_items": "STEP_SUCCESS",  # it reads the runs, not documents
        }
        # ... and "re-execute from failure" in a brand-new run worker runs only what is left.
        again = deployment.run({"from_failure": failed["run_id"]})
        assert again["success"], again
        assert executed_steps(shared, again["run_id"]) == {
            "extend_extracted_documents": "STEP_SUCCESS"
        }
        for request in others:
            assert deployment.run(outputs_spec(request))["success"]

        per_step = documents_table(db_path)
        truth = {doc.key: doc.truth["expected_status"] for doc in stack.documents}
        assert Counter(per_step["key"]) == Counter(list(truth))  # each document exactly once
        assert dict(zip(per_step["key"], per_step["status"], strict=True)) == truth
        assert {"PROCESSED", "FAILED"} <= set(truth.values())
        pd.testing.assert_frame_equal(stable(per_step), stable(reference))

        # 2. Retention (or a lifecycle rule) removed the raw files from S3; the documents
        # table alone, re-materialized in new containers, is rebuilt from Extend.
        raw_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=raw_bucket).get("Contents", [])]
        assert raw_keys, "the raw runs were not written to s3://"
        for key in raw_keys:
            s3.delete_object(Bucket=raw_bucket, Key=key)
        partition = partitions[0]
        alone = deployment.run(
            {
                "job": f"{NAME}_extend_outputs",
                "tags": {"dagster/partition": partition},
                "assets": [list(DOCUMENTS.path)],
            }
        )
        assert alone["success"], alone
        assert executed_steps(shared, alone["run_id"]) == {
            "extend_extracted_documents": "STEP_SUCCESS"
        }
        event = shared.get_latest_materialization_event(DOCUMENTS)
        assert event is not None and event.run_id == alone["run_id"]
        materialization = event.asset_materialization
        assert materialization is not None
        refetched = materialization.metadata["raw_runs_refetched"].value
        assert isinstance(refetched, int) and refetched > 0
        rebuilt = documents_table(db_path)
        pd.testing.assert_frame_equal(rebuilt, per_step)

        # No document version was submitted twice.
        sent = Counter(
            (s["metadata"].get("bucket"), s["metadata"].get("key"), s["metadata"].get("etag"))
            for s in stack.emulator.submissions()
        )
        assert sent and max(sent.values()) == 1, sent
        assert {key for _, key, _ in sent} == {k for k, s in truth.items() if s != "SKIPPED"}

        # Each step reported its own process (Dagster's "Step worker started", with its pid).
        pids = step_worker_pids(shared)
        shared.dispose()

    # Every step ran in a container of its own, and none left anything where it started.
    steps = deployment.step_dirs()
    assert len(steps) == 2 + 3 + 1 + 3 * len(others) + 1
    assert len(pids) == len(steps)
    assert len(set(pids)) == len(steps)
    assert all(list(cwd.iterdir()) == [] for cwd in deployment.working_dirs())
