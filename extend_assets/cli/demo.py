"""``extend-assets demo``: the whole pipeline offline, through the real Dagster machinery.

It starts the local stack (the Extend emulator and S3 on loopback), seeds sample
documents over a few days, runs the submission job as one backfill run over every
day, ticks the run-status sensor until every partition has settled, runs the
downstream job for what the sensor requests, and prints what came out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb
from dagster import DagsterInstance, ExecuteInProcessResult

from extend_assets.cli.environment import install_dagster_yaml, wipe
from extend_assets.cli.runner import PipelineRunError, PipelineRunner, SettleReport
from extend_assets.client import API_VERSION, SUPPORTED_API_VERSIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--documents", type=int, default=60, help="sample documents to seed (default 60)"
    )
    parser.add_argument("--days", type=int, default=3, help="days (partitions) to spread them over")
    parser.add_argument(
        "--seed", type=int, default=7, help="corpus seed (same seed, same documents)"
    )
    parser.add_argument(
        "--home",
        default=".extend_demo",
        help="working directory for the Dagster instance and the DuckDB file (wiped first)",
    )
    parser.add_argument("--latency", type=float, default=0.02, help="emulator seconds per run")
    parser.add_argument(
        "--max-ticks", type=int, default=300, help="give up after this many sensor ticks"
    )
    parser.add_argument(
        "--api-version",
        choices=SUPPORTED_API_VERSIONS,
        default=os.environ.get("EXTEND_API_VERSION") or API_VERSION,
        help=f"Extend API version the pipeline speaks (default {API_VERSION}, or "
        "$EXTEND_API_VERSION); the tables are the same either way",
    )
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="complete through webhooks: the emulator sends signed events to the real "
        "receiver (extend-assets webhooks on 127.0.0.1), the sensor reads what it landed",
    )


@dataclass
class DemoResult:
    partitions: list[str]
    submitted: int
    status_counts: dict[str, int]
    duckdb_path: Path
    sensor_ticks: int
    outputs_runs: int
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)
    completion: str = "polling"
    events_landed: int = 0
    api_version: str = API_VERSION


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
            webhooks=args.webhooks,
            api_version=args.api_version,
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
    wipe(home)
    install_dagster_yaml(home)
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
    webhooks: bool = False,
    api_version: str = API_VERSION,
) -> DemoResult:
    from extend_assets.localstack import LocalStack

    home = prepare_home(home)
    say = _printer(out)
    say(
        f"Starting the local stack: Extend emulator + S3, {documents} documents over {days} day(s)..."
    )
    with contextlib.ExitStack() as stack_of_servers:
        receiver = (
            stack_of_servers.enter_context(DemoReceiver(home / "landing", home / "receiver.log"))
            if webhooks
            else None
        )
        if receiver is not None:
            say(f"  webhook receiver (extend-assets webhooks) at {receiver.url}, landing in "
                f"{receiver.landing}")  # fmt: skip
        stack = stack_of_servers.enter_context(
            LocalStack(
                documents=documents,
                days=days,
                seed=seed,
                emulator_latency=latency,
                webhook_url=receiver.url if receiver else None,
                webhook_secret=receiver.secret if receiver else None,
            )
        )
        env = demo_environment(stack.env(), home, receiver)
        env["EXTEND_API_VERSION"] = api_version
        say(f"  the pipeline speaks Extend API {api_version}")
        partitions = sorted({doc.partition for doc in stack.documents})
        env["EXTEND_START_DATE"] = partitions[0]
        say(f"  Extend emulator at {env['EXTEND_BASE_URL']}, S3 at {env['AWS_ENDPOINT_URL']}")
        with patched_environ(env):
            submitted, report = _submit_and_settle(
                home, partitions, say, max_ticks=max_ticks, webhooks=receiver is not None
            )
        calls = api_calls(stack.emulator.counters())
        landed = receiver.landed() if receiver is not None else 0
        db_path = home / "extend.duckdb"
        counts, rows = read_summary(db_path)
    return DemoResult(
        partitions=partitions,
        submitted=submitted,
        status_counts=counts,
        duckdb_path=db_path,
        sensor_ticks=report.ticks,
        outputs_runs=report.outputs_runs,
        sample_rows=rows,
        api_calls=calls,
        completion="webhooks" if webhooks else "polling",
        events_landed=landed,
        api_version=api_version,
    )


def demo_environment(
    stack_env: Mapping[str, str], home: Path, receiver: DemoReceiver | None
) -> dict[str, str]:
    """The code location's settings for the demo: the local stack, this home, settle reviews."""
    env = {
        **stack_env,
        "DAGSTER_HOME": str(home),
        "EXTEND_DUCKDB_PATH": str(home / "extend.duckdb"),
        # Nobody reviews in a demo: tables are built as runs settle, NEEDS_REVIEW included.
        "EXTEND_REVIEW_POLICY": "settle",
    }
    if receiver is not None:
        env.update(
            {
                "EXTEND_COMPLETION": "webhooks",
                "EXTEND_WEBHOOK_LANDING": str(receiver.landing),
                # a local directory: a landed event is whole within milliseconds
                "EXTEND_WEBHOOK_SETTLE_SECONDS": "0.5",
                "EXTEND_WEBHOOK_RECONCILE_AFTER_SECONDS": "30",
            }
        )
    return env


def _submit_and_settle(
    home: Path, partitions: list[str], say: Callable[[str], None], *, max_ticks: int, webhooks: bool
) -> tuple[int, SettleReport]:
    """One backfill run over every partition, then sensor ticks until each settled."""
    from extend_assets.definitions import build_definitions

    defs = build_definitions()
    with DagsterInstance.from_config(str(home)) as instance:
        runner = PipelineRunner(defs, instance, "invoices", say=say, log_level="WARNING")
        say(f"Submitting partitions {partitions[0]}..{partitions[-1]} as one backfill run...")
        try:
            result = runner.submit(partitions)
            submitted = submitted_count(result)
            say(f"  submitted {submitted} document(s) to Extend.")
            say(
                "Waiting for Extend to process the runs (the sensor reads landed events)..."
                if webhooks
                else "Waiting for Extend to process the runs (the sensor polls)..."
            )
            report = runner.settle(partitions, max_ticks=max_ticks, pause_seconds=0.2)
        except PipelineRunError as error:
            raise DemoError(str(error)) from None
    return submitted, report


ENDPOINTS = {
    "GET /workflow_runs": "list",
    "GET /workflow_runs/{id}": "get",
    "POST /workflow_runs/batch": "batch",
    "POST /workflow_runs": "create",
}


def api_calls(counters: Mapping[str, int]) -> dict[str, int]:
    """Requests the emulator received, by endpoint (list / get / batch, and any others)."""
    calls = {name: int(counters.get(route, 0)) for route, name in ENDPOINTS.items()}
    for route, count in counters.items():
        if route.startswith(("GET ", "POST ", "DELETE ")) and route not in ENDPOINTS:
            calls[route] = int(count)
    return {
        name: count for name, count in calls.items() if count or name in ("list", "get", "batch")
    }


class DemoReceiver:
    """``extend-assets webhooks`` on 127.0.0.1 in a subprocess, with a fresh signing secret."""

    def __init__(self, landing: Path, log_path: Path) -> None:
        self.landing = landing
        self.log_path = log_path
        self.secret = "wss_demo_" + secrets.token_hex(16)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DemoReceiver:
        env = {**os.environ, "EXTEND_WEBHOOK_SECRET": self.secret}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "extend_assets.webhooks.cli", "--host", "127.0.0.1",
                 "--port", str(self.port), "--landing", str(self.landing),
                 "--api-version", "2025-04-21"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise DemoError(
                    f"the webhook receiver did not start (is the 'webhooks' extra installed?); "
                    f"see {self.log_path}"
                )
            time.sleep(0.1)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def landed(self) -> int:
        events = self.landing / "events"
        return sum(1 for _ in events.glob("*.json")) if events.is_dir() else 0

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def submitted_count(result: ExecuteInProcessResult) -> int:
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if (
            materialization is not None
            and materialization.asset_key.path[-1] == "extend_workflow_batches"
        ):
            value = materialization.metadata.get("extend/documents_submitted")
            return int(getattr(value, "value", 0) or 0)
    return 0


def read_summary(db_path: Path) -> tuple[dict[str, int], list[dict[str, Any]]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        counts = dict(
            con.execute(
                "select status, count(*) from invoices.extend_extracted_documents group by 1 order by 1"
            ).fetchall()
        )
        frame = con.execute(
            "select key, status, invoice_number, vendor_name, total_amount, total_currency "
            "from invoices.extend_extracted_documents where status = 'PROCESSED' order by key limit 5"
        ).fetchdf()
    return {str(k): int(v) for k, v in counts.items()}, frame.to_dict("records")


def print_summary(result: DemoResult, out: TextIO) -> None:
    say = _printer(out)
    total = sum(result.status_counts.values())
    say("")
    say("=" * 72)
    say(
        f"Done: {total} document(s) over {len(result.partitions)} partition(s) "
        f"({result.partitions[0]}..{result.partitions[-1]})."
    )
    say(
        f"  submitted to Extend: {result.submitted}; sensor ticks: {result.sensor_ticks}; "
        f"output runs: {result.outputs_runs}"
    )
    calls = ", ".join(f"{name} {count}" for name, count in result.api_calls.items())
    say(f"  Extend API version: {result.api_version}")
    say(f"  completion: {result.completion}; Extend API calls by endpoint: {calls}")
    if result.completion == "webhooks":
        say(f"  webhook events landed by the receiver: {result.events_landed}")
    say("  documents by status:")
    for status, count in sorted(result.status_counts.items()):
        say(f"    {status:<14} {count}")
    if result.sample_rows:
        say("  a few extracted rows:")
        for row in result.sample_rows:
            amount = row.get("total_amount")
            say(
                f"    {row.get('key')!s:<44} {row.get('invoice_number')!s:<14} "
                f"{str(row.get('vendor_name'))[:24]:<24} {amount} {row.get('total_currency')}"
            )
    say(f"  tables are in DuckDB: {result.duckdb_path}")
    query = "select * from invoices.extend_extracted_documents limit 5"
    say(
        f'    {sys.executable} -c "import duckdb; print(duckdb.connect('
        f"'{result.duckdb_path}', read_only=True).sql('{query}'))\""
    )
    say("  open the Dagster UI on the same offline stack with: extend-assets dev (make dev)")
    say("=" * 72)


def _printer(out: TextIO) -> Any:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    return say
