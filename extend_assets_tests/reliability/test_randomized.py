"""Seeded, bounded end to end: two workflows, random all-failed and empty days,
overlapping backfills in two processes at once, an asset wipe in the middle. Every
listed document ends in exactly one row, and no version is submitted twice."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, RunRequest

from extend_assets.cli.demo import patched_environ
from extend_assets.cli.runner import PipelineRunner, range_tags
from extend_assets.emulator import EmulatorServer
from extend_assets_tests.assets.harness import put_texts
from extend_assets_tests.deployment.postgres import (
    PostgresServer,
    postgres_instance_yaml,
    postgres_or_skip,
)
from extend_assets_tests.reliability.concurrent import start_submission, wait_ready
from extend_assets_tests.reliability.two_workflows import BODIES, WORKFLOWS, emulator_config

SEED = int(os.environ.get("EXTEND_RANDOM_SEED", "16"))
DAYS = [f"2025-01-{d:02d}" for d in range(13, 19)]
DEFS_REF = "extend_assets_tests.reliability.two_workflows:defs"
JOBS = [f"{name}_extend_submit" for name in WORKFLOWS]
# Bounds below are hang guards for a loaded 2-core machine, never speed assertions.
pytestmark = pytest.mark.timeout(1800)


def plan_corpus(rng: random.Random) -> dict[str, dict[str, str]]:
    """Per workflow: key -> kind ('ok' or 'failed'); some days left empty."""
    corpus: dict[str, dict[str, str]] = {}
    for name in WORKFLOWS:
        docs: dict[str, str] = {}
        for day in DAYS:
            kind = rng.choice(["ok", "ok", "failed", "empty"])
            for i in range(0 if kind == "empty" else rng.randint(2, 8)):
                docs[f"{name}/{day}/doc-{i}.txt"] = kind
        corpus[name] = docs
    return corpus


def upload(s3: Any, bucket: str, name: str, docs: dict[str, str]) -> None:
    ok = [k for k, kind in docs.items() if kind == "ok"]
    failed = [k for k, kind in docs.items() if kind == "failed"]
    put_texts(s3, bucket, ok, body=BODIES[name].format(n=len(ok)))
    put_texts(s3, bucket, failed, body="")  # zero bytes: Extend fails it (CORRUPT_FILE)


def window(rng: random.Random) -> tuple[list[str], list[str]]:
    """Two overlapping ranges of days."""
    start = rng.randint(0, len(DAYS) - 3)
    middle = rng.randint(start + 1, len(DAYS) - 2)
    end = rng.randint(middle + 1, len(DAYS))
    return DAYS[start : middle + 1], DAYS[middle:end]


def concurrent_backfills(
    env: dict[str, str], tmp: Path, a_days: list[str], b_days: list[str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    go = [tmp / f"go-{tag}-a", tmp / f"go-{tag}-b"]
    procs = [
        start_submission(env, go[0], a_days, tmp / f"{tag}-a.log", defs_ref=DEFS_REF, jobs=JOBS),
        start_submission(env, go[1], b_days, tmp / f"{tag}-b.log", defs_ref=DEFS_REF, jobs=JOBS),
    ]
    try:
        for flag in go:
            wait_ready(flag)
        for flag in go:
            flag.touch()
        for proc, letter in zip(procs, "ab", strict=True):
            assert proc.wait(timeout=900) == 0, (tmp / f"{tag}-{letter}.log").read_text()[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_or_skip() as server:
        yield server


@pytest.mark.slow(seconds=105)
def test_random_days_concurrent_backfills_and_a_wipe(local_s3: Any, tmp_path: Path) -> None:
    random_scenario(local_s3, tmp_path, home_yaml=None)


@pytest.mark.slow(seconds=110)
def test_random_days_concurrent_backfills_and_a_wipe_on_postgres(
    local_s3: Any, tmp_path: Path, postgres: PostgresServer
) -> None:
    database = f"rand_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    random_scenario(local_s3, tmp_path, home_yaml=postgres_instance_yaml(postgres, database))


def random_scenario(local_s3: Any, tmp_path: Path, home_yaml: str | None) -> None:
    """Random days, two concurrent backfills (each ledger read widened by
    ``EXTEND_TEST_LEDGER_READ_PAUSE``, default 0.3 s), a wipe, late documents, twice more."""
    rng = random.Random(SEED)
    bucket = f"rand-{uuid.uuid4().hex[:8]}"
    s3 = local_s3.boto3_client()
    s3.create_bucket(Bucket=bucket)
    corpus = plan_corpus(rng)
    for name, docs in corpus.items():
        upload(s3, bucket, name, docs)
    home = tmp_path / "home"
    home.mkdir()
    if home_yaml is not None:
        (home / "dagster.yaml").write_text(home_yaml)
    config = emulator_config(tmp_path / "workflows.yaml")
    with EmulatorServer(port=0, config_path=config, runs_per_minute=0) as emulator:
        env = {
            **os.environ,
            **local_s3.env(),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "DAGSTER_HOME": str(home),
            "EXTEND_BASE_URL": emulator.base_url,
            "EXTEND_API_KEY": emulator.api_key,
            "EXTEND_S3_BUCKET": bucket,
            "EXTEND_DUCKDB_PATH": str(home / "tables.duckdb"),
            "EXTEND_TEST_LEDGER_READ_PAUSE": os.environ.get("EXTEND_TEST_LEDGER_READ_PAUSE", "0.3"),
        }
        with DagsterInstance.from_config(str(home)):
            pass  # create the storage before two processes use it
        emulator.set_faults(slow_seconds=0.2)
        concurrent_backfills(env, tmp_path, *window(rng))
        with patched_environ(env), DagsterInstance.from_config(str(home)) as instance:
            instance.wipe_assets(_all_asset_keys())  # the wipe, in the middle
        for name, docs in corpus.items():  # late arrivals on random days
            late = {f"{name}/{rng.choice(DAYS)}/late-{i}.txt": "ok" for i in range(2)}
            upload(s3, bucket, name, late)
            docs.update(late)
        concurrent_backfills(env, tmp_path, *window(rng))
        concurrent_backfills(env, tmp_path, DAYS, DAYS)
        emulator.clear_faults()

        submitted = Counter(
            (s["metadata"]["bucket"], s["metadata"]["key"], s["metadata"]["etag"])
            for s in emulator.submissions()
        )
        assert [v for v, n in submitted.items() if n > 1] == []
        assert sorted(k for _, k, _ in submitted) == sorted(k for d in corpus.values() for k in d)
        if os.environ.get("EXTEND_RANDOM_SUBMIT_ONLY"):
            return  # many seeds of the exactly-once part alone (see the README)

        emulator.set_throughput(runs_per_minute=None)
        _wait_until_processed(emulator)
        with patched_environ(env), DagsterInstance.from_config(str(home)) as instance:
            from extend_assets_tests.reliability.two_workflows import build_defs

            defs = build_defs()
            for name in WORKFLOWS:  # one ranged run over every day, as the sensor groups
                PipelineRunner(defs, instance, name).run_outputs(RunRequest(tags=range_tags(DAYS)))
    with duckdb.connect(str(home / "tables.duckdb"), read_only=True) as con:
        for name, docs in corpus.items():
            rows = con.execute(
                f"select key, status from {name}.extend_extracted_documents"
            ).fetchall()
            assert Counter(key for key, _ in rows) == Counter(list(docs)), name
            for key, status in rows:
                assert (status == "FAILED") == (docs[key] == "failed"), (key, status)
        columns = {
            name: {
                r[0] for r in con.execute(f"describe {name}.extend_extracted_documents").fetchall()
            }
            for name in WORKFLOWS
        }
    assert {"merchant", "total"} <= columns["receipts"]
    assert {"vendor_name", "total_amount"} <= columns["invoices"]


def _all_asset_keys() -> list[AssetKey]:
    from extend_assets_tests.reliability.two_workflows import build_defs

    return list(build_defs().resolve_asset_graph().get_all_asset_keys())


def _wait_until_processed(emulator: EmulatorServer, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while emulator.backend.open_count() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert emulator.backend.open_count() == 0
