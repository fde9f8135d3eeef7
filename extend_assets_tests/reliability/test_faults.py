"""Faults survived: 600 documents through 5xx, 429 storms, slow and dropped answers,
a submission process killed mid-POST, and an emulator restarted from its state file
(``EXTEND_TEST_FAULTS_DOCUMENTS=5000`` for a longer soak).

Afterwards every document has exactly one row with its final status, and the
emulator's own records show that no document version was submitted twice.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance

from extend_assets.cli.demo import patched_environ
from extend_assets.cli.runner import PipelineRunner
from extend_assets.emulator import EmulatorServer
from extend_assets_tests.ports import free_port
from extend_assets_tests.reliability.crash import kill_a_submission_mid_post

DOCUMENTS = int(os.environ.get("EXTEND_TEST_FAULTS_DOCUMENTS", "600"))
DAYS = 4
BATCH_POST = "POST /workflow_runs/batch"

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow(seconds=70)]


@pytest.fixture
def corpus(local_s3: Any) -> Iterator[tuple[str, list[Any]]]:
    from extend_assets.samples.corpus import generate_corpus, upload_corpus

    bucket = "faults-corpus"
    client = local_s3.boto3_client()
    client.create_bucket(Bucket=bucket)
    docs = generate_corpus(DOCUMENTS, days=DAYS, seed=21)
    upload_corpus(docs, client, bucket)
    yield bucket, docs


def test_nothing_lost_nothing_doubled_under_faults(
    local_s3: Any, corpus: tuple[str, list[Any]], tmp_path: Path
) -> None:
    bucket, docs = corpus
    partitions = sorted({doc.partition for doc in docs})
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "emulator.sqlite"
    port = free_port()
    db_path = home / "extend.duckdb"
    emulator = EmulatorServer(port=port, state_path=state).start()
    stack = ExitStack()
    try:
        env = {
            **os.environ,
            **local_s3.env(),
            "DAGSTER_HOME": str(home),
            "EXTEND_BASE_URL": emulator.base_url,
            "EXTEND_API_KEY": emulator.api_key,
            "EXTEND_S3_BUCKET": bucket,
            "EXTEND_S3_PREFIX": "invoices/{date}/",
            "EXTEND_START_DATE": partitions[0],
            "EXTEND_DUCKDB_PATH": str(db_path),
            "EXTEND_REVIEW_POLICY": "settle",
            "EXTEND_REQUESTS_PER_SECOND": "400",
            # The emulator creates a batch's runs within its POST: an unconfirmed batch it
            # does not list is known not to exist after a short grace (default 120 s).
            "EXTEND_RECONCILE_GRACE_SECONDS": "5",
            # The emulator shares this busy process: a page of 1,000 runs may take longer
            # than a default tick's 10 s per call on two loaded cores.
            "EXTEND_SENSOR_TICK_BUDGET_SECONDS": "50",
        }
        # 1. A submission process dies between Extend creating runs and the ledger
        #    recording the batch: of the first two days, so the re-run below both adopts
        #    that batch and POSTs the other days' documents through the faults.
        kill_a_submission_mid_post(emulator, env, partitions[:2], tmp_path)
        created_before_rerun = len(emulator.submissions())

        # 2. Faults on: 10% 5xx, 429 bursts with Retry-After, slow and dropped answers.
        emulator.set_faults(
            error_rate=0.1, rate_limit_burst=5, slow_seconds=0.02, drop_rate=0.02, seed=3
        )
        # EnvVar resources read the environment when a run starts, so the runs (not
        # only the definitions) happen inside the stack's environment.
        stack.enter_context(patched_environ(env))
        from extend_assets.definitions import build_definitions

        defs = build_definitions()
        instance = DagsterInstance.from_config(str(home))
        runner = PipelineRunner(defs, instance, "invoices")
        attempts = 0
        succeeded = False
        while not succeeded and attempts < 20:  # a failed POST is reconciled by the next one
            attempts += 1
            succeeded = runner.submit(partitions, raise_on_error=False).success
        assert succeeded, "submission did not succeed in 20 attempts under faults"

        # 3. The emulator restarts from its state file while runs are processing.
        before_restart = Counter(emulator.counters())
        emulator.stop()
        emulator = EmulatorServer(port=port, state_path=state).start()
        emulator.set_faults(error_rate=0.1, rate_limit_burst=5, drop_rate=0.02, seed=4)

        # 4. The sensor and the output runs, through the same faults.
        report = runner.settle(partitions, max_ticks=600, pause_seconds=0.1)
        assert set(report.settled) == set(partitions)
        counters = before_restart + Counter(emulator.counters())
        submissions = emulator.submissions()
    finally:
        emulator.stop()
        stack.close()

    # No document version was submitted twice: the killed POST's runs were adopted.
    versions = Counter(
        (s["metadata"].get("bucket"), s["metadata"].get("key"), s["metadata"].get("etag"))
        for s in submissions
    )
    doubled = {version: n for version, n in versions.items() if n > 1}
    assert doubled == {}
    assert created_before_rerun > 0
    assert counters[BATCH_POST] >= 2  # the killed POST, then the rest under faults

    truth = {doc.key: doc.truth for doc in docs}
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("select key, status from invoices.extend_extracted_documents").fetchall()
    keys = Counter(key for key, _ in rows)
    assert {key for key, n in keys.items() if n > 1} == set()
    assert set(keys) == set(truth)
    assert {key: status for key, status in rows} == {
        key: t["expected_status"] for key, t in truth.items()
    }
    sent = sum(1 for t in truth.values() if t["expected_status"] != "SKIPPED")
    assert len(submissions) == sent
    print(
        f"\nfaults: {DOCUMENTS} documents, {len(partitions)} partitions, "
        f"{attempts} submission attempt(s) after the kill, {report.ticks} sensor ticks, "
        f"429s {counters.get('429', 0)}, injected 5xx {counters.get('5xx', 0)}, "
        f"batch POSTs {counters.get(BATCH_POST, 0)}"
    )
