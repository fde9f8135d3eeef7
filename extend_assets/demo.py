"""``extend-assets demo``: the whole pipeline offline, through the real Dagster machinery.

It starts the local stack (the Extend emulator and S3 on loopback), seeds sample
documents over a few days, runs the submission job as one backfill run over every
day, ticks the run-status sensor until every partition has settled, runs the
downstream job for what the sensor requests, and prints what came out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb
from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    build_sensor_context,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
SUBMIT_JOB = "invoices_extend_submit"
OUTPUTS_JOB = "invoices_extend_outputs"
SENSOR = "invoices_extend_run_status_sensor"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--documents", type=int, default=60, help="sample documents to seed (default 60)")
    parser.add_argument("--days", type=int, default=3, help="days (partitions) to spread them over")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (same seed, same documents)")
    parser.add_argument(
        "--home",
        default=".extend_demo",
        help="working directory for the Dagster instance and the DuckDB file (wiped first)",
    )
    parser.add_argument("--latency", type=float, default=0.02, help="emulator seconds per run")
    parser.add_argument("--max-ticks", type=int, default=300, help="give up after this many sensor ticks")


@dataclass
class DemoResult:
    partitions: list[str]
    submitted: int
    status_counts: dict[str, int]
    duckdb_path: Path
    sensor_ticks: int
    outputs_runs: int
    sample_rows: list[dict[str, Any]] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    try:
        result = run_demo(
            documents=args.documents,
            days=args.days,
            seed=args.seed,
            home=Path(args.home),
            latency=args.latency,
            max_ticks=args.max_ticks,
            out=sys.stdout,
        )
    except DemoError as error:
        print(f"\nDemo failed: {error}", file=sys.stderr)
        return 1
    print_summary(result, sys.stdout)
    return 0


class DemoError(RuntimeError):
    pass


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prepare_home(home: Path) -> Path:
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    return home.resolve()


def run_demo(
    *,
    documents: int,
    days: int,
    seed: int,
    home: Path,
    latency: float,
    max_ticks: int,
    out: TextIO,
) -> DemoResult:
    from extend_assets.localstack import LocalStack

    home = prepare_home(home)
    say = _printer(out)
    say(f"Starting the local stack: Extend emulator + S3, {documents} documents over {days} day(s)...")
    with LocalStack(documents=documents, days=days, seed=seed, emulator_latency=latency) as stack:
        env = {**stack.env(), "DAGSTER_HOME": str(home), "EXTEND_DUCKDB_PATH": str(home / "extend.duckdb")}
        partitions = sorted({doc.partition for doc in stack.documents})
        env["EXTEND_START_DATE"] = partitions[0]
        say(f"  Extend emulator at {env['EXTEND_BASE_URL']}, S3 at {env['AWS_ENDPOINT_URL']}")
        with patched_environ(env):
            from extend_assets.definitions import build_definitions

            defs = build_definitions()
            with DagsterInstance.from_config(str(home)) as instance:
                submitted = submit_partitions(defs, instance, partitions, say)
                ticks, outputs_runs = settle_and_materialize(defs, instance, partitions, max_ticks, say)
        db_path = home / "extend.duckdb"
        counts, rows = read_summary(db_path)
    return DemoResult(
        partitions=partitions,
        submitted=submitted,
        status_counts=counts,
        duckdb_path=db_path,
        sensor_ticks=ticks,
        outputs_runs=outputs_runs,
        sample_rows=rows,
    )


def submit_partitions(
    defs: Definitions, instance: DagsterInstance, partitions: list[str], say: Any
) -> int:
    say(f"Submitting partitions {partitions[0]}..{partitions[-1]} as one backfill run...")
    job = defs.resolve_job_def(SUBMIT_JOB)
    result = job.execute_in_process(
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: partitions[0],
            ASSET_PARTITION_RANGE_END_TAG: partitions[-1],
        },
        raise_on_error=False,
    )
    if not result.success:
        raise DemoError(f"the submission run failed: {_first_failure(result)}")
    submitted = 0
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        if materialization.asset_key.path[-1] == "extend_workflow_batches":
            value = materialization.metadata.get("extend/documents_submitted")
            submitted = int(getattr(value, "value", 0) or 0)
    say(f"  submitted {submitted} document(s) to Extend.")
    return submitted


def settle_and_materialize(
    defs: Definitions,
    instance: DagsterInstance,
    partitions: list[str],
    max_ticks: int,
    say: Any,
) -> tuple[int, int]:
    """Tick the sensor until every partition's outputs were materialized."""
    sensor = defs.resolve_sensor_def(SENSOR)
    outputs_job = defs.resolve_job_def(OUTPUTS_JOB)
    resources = defs.resources or {}
    cursor: str | None = None
    done: set[str] = set()
    seen_run_keys: set[str] = set()
    outputs_runs = 0
    say("Waiting for Extend to process the runs (the sensor polls)...")
    for tick in range(1, max_ticks + 1):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            result = sensor.evaluate_tick(context)
            cursor = result.cursor if result.cursor is not None else cursor
        for request in result.run_requests or []:
            if request.run_key and request.run_key in seen_run_keys:
                continue
            if request.run_key:
                seen_run_keys.add(request.run_key)
            covered = _partitions_of(request, partitions)
            say(f"  tick {tick}: settled {', '.join(covered)}; materializing the tables...")
            run = outputs_job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags={k: v for k, v in (request.tags or {}).items() if k.startswith("dagster/asset_partition_range")},
                raise_on_error=False,
            )
            if not run.success:
                raise DemoError(f"the outputs run for {covered} failed: {_first_failure(run)}")
            outputs_runs += 1
            done.update(covered)
        if done >= set(partitions):
            return tick, outputs_runs
        if result.skip_message and tick % 5 == 0:
            say(f"  tick {tick}: {result.skip_message}")
        time.sleep(0.2)
    raise DemoError(
        f"runs did not settle within {max_ticks} sensor ticks; settled so far: {sorted(done) or 'none'}"
    )


def _partitions_of(request: RunRequest | SensorResult, partitions: list[str]) -> list[str]:
    if isinstance(request, RunRequest) and request.partition_key:
        return [request.partition_key]
    tags = getattr(request, "tags", {}) or {}
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return [p for p in partitions if start <= p <= end]
    return []


def _first_failure(result: Any) -> str:
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                return str(error.message).strip().splitlines()[-1]
    return "see the Dagster event log"


def read_summary(db_path: Path) -> tuple[dict[str, int], list[dict[str, Any]]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        counts = dict(
            con.execute(
                "select status, count(*) from invoices.extend_extracted_documents group by 1 order by 1"
            ).fetchall()
        )
        frame = con.execute(
            'select key, status, invoice_number, "vendor.name", "total.amount", "total.currency" '
            "from invoices.extend_extracted_documents where status = 'PROCESSED' order by key limit 5"
        ).fetchdf()
    return {str(k): int(v) for k, v in counts.items()}, frame.to_dict("records")


def print_summary(result: DemoResult, out: TextIO) -> None:
    say = _printer(out)
    total = sum(result.status_counts.values())
    say("")
    say("=" * 72)
    say(f"Done: {total} document(s) over {len(result.partitions)} partition(s) "
        f"({result.partitions[0]}..{result.partitions[-1]}).")
    say(f"  submitted to Extend: {result.submitted}; sensor ticks: {result.sensor_ticks}; "
        f"output runs: {result.outputs_runs}")
    say("  documents by status:")
    for status, count in sorted(result.status_counts.items()):
        say(f"    {status:<14} {count}")
    if result.sample_rows:
        say("  a few extracted rows:")
        for row in result.sample_rows:
            amount = row.get("total.amount")
            say(
                f"    {str(row.get('key')):<44} {str(row.get('invoice_number')):<14} "
                f"{str(row.get('vendor.name'))[:24]:<24} {amount} {row.get('total.currency')}"
            )
    say(f"  tables are in DuckDB: {result.duckdb_path}")
    say(f"    duckdb {result.duckdb_path} \"select * from invoices.extend_extracted_documents limit 5\"")
    say("  open the Dagster UI on the same offline stack with: make dev")
    say("=" * 72)


def _printer(out: TextIO) -> Any:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    return say
