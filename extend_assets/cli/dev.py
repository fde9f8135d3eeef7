"""``extend-assets dev``: the local stack plus ``dagster dev``, for the UI offline.

The UI then shows the assets, partitions, sensor and checks against the emulator
and the local S3; a backfill launched from it (or by ``--backfill``, once the UI is
up) runs end to end. Everything it needs
ships in the package: the instance settings (``extend_assets/cli/dagster.yaml``) and
the code location (``dagster dev -m extend_assets.definitions``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from extend_assets.cli.environment import install_dagster_yaml, port_in_use

HOST = "127.0.0.1"
# What `extend_assets.definitions` builds: the code location, its workflow and jobs.
LOCATION = "extend_assets.definitions"
NAME = "invoices"
SUBMIT_JOB = f"{NAME}_extend_submit"
SUBMIT_ASSETS = ((NAME, "extend_source_documents"), (NAME, "extend_workflow_batches"))
SENSOR = f"{NAME}_extend_run_status_sensor"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--documents", type=int, default=60, help="sample documents to seed")
    parser.add_argument("--days", type=int, default=3, help="days (partitions) to spread them over")
    parser.add_argument("--home", default=".dagster_home", help="DAGSTER_HOME (kept between runs)")
    parser.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (127.0.0.1)")
    parser.add_argument("--latency", type=float, default=0.5, help="emulator seconds per run")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="once the UI is up, launch the backfill of the sample days (one run), as the "
        "UI's 'Materialize all' -> 'Launch backfill' would",
    )
    parser.add_argument(
        "--review-policy",
        choices=("settle", "wait"),
        default=os.environ.get("EXTEND_REVIEW_POLICY") or "settle",
        help="settle (default, or $EXTEND_REVIEW_POLICY): nobody reviews in dev, tables are built as runs settle, "
        "NEEDS_REVIEW included; wait: hold partitions until `extend-assets review approve`",
    )


def dagster_dev_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "dagster", "dev",
        "-m", "extend_assets.definitions",
        "-h", HOST, "-p", str(port),
    ]  # fmt: skip


def busy_port_message(port: int) -> str:
    return (
        f"extend-assets dev: error: port {port} on {HOST} is already in use (another "
        f"`dagster dev`?). Stop it, or pick a free port: extend-assets dev --port {port + 1}"
    )


def sample_end_date(today: date | None = None) -> date:
    """Yesterday (UTC): the newest complete daily partition, inside the UI's backfill window."""
    return (today or datetime.now(UTC).date()) - timedelta(days=1)


def dev_environment(stack: Any, home: Path, review_policy: str) -> dict[str, str]:
    partitions = sorted({doc.partition for doc in stack.documents})
    env = {**os.environ, **stack.env(), "DAGSTER_HOME": str(home)}
    env["EXTEND_START_DATE"] = partitions[0]
    env["EXTEND_REVIEW_POLICY"] = review_policy
    env.setdefault("EXTEND_DUCKDB_PATH", str(home / "extend.duckdb"))
    env.setdefault("EXTEND_SENSOR_INTERVAL_SECONDS", "5")
    return env


def ui_steps(partitions: list[str], port: int) -> list[str]:
    """The clicks that fill the sample days, for whoever did not pass ``--backfill``."""
    url = f"http://{HOST}:{port}/locations/{LOCATION}/jobs/{SUBMIT_JOB}"
    return [
        f"To fill the sample days from the UI: open {url}",
        '  click "Materialize all", choose the partitions '
        f'{partitions[0]} ... {partitions[-1]} (all {len(partitions)}), click "Launch backfill";',
        f"  the backfill runs as one run, then the sensor {SENSOR} builds the tables as "
        "Extend's runs settle.",
        "  Or start with `extend-assets dev --backfill` and this is done for you.",
    ]


def print_startup(stack: Any, env: dict[str, str], port: int, backfill: bool = False) -> None:
    partitions = sorted({doc.partition for doc in stack.documents})
    print("Local stack is up:")
    print(f"  Extend emulator:  {stack.emulator.base_url} (key {stack.emulator.api_key})")
    print(f"  sample documents: {len(stack.documents)} in s3://{stack.bucket}/{stack.prefix}")
    print(f"  sample days:      {', '.join(partitions)}")
    print(f"  tables (DuckDB):  {env['EXTEND_DUCKDB_PATH']}")
    policy = env["EXTEND_REVIEW_POLICY"]
    print(
        f"  review policy:    {policy}"
        + (
            " (runs in review do not hold partitions back)"
            if policy == "settle"
            else " (approve with: extend-assets review approve RUN_ID "
            f"--base-url {stack.emulator.base_url})"
        )
    )
    if backfill:
        print(
            f"The backfill of {SUBMIT_JOB} over {partitions[0]} ... {partitions[-1]} is "
            "launched as soon as the UI has loaded (see Overview -> Backfills)."
        )
    else:
        for line in ui_steps(partitions, port):
            print(line)
    print(f"Starting dagster dev on http://{HOST}:{port} (Ctrl-C stops everything)", flush=True)


def backfill_in_background(
    partitions: list[str], port: int, process: subprocess.Popen[bytes]
) -> threading.Thread:
    """Launch the sample days' backfill once dagster dev's UI has loaded its location."""
    from extend_assets.cli.backfill import (
        BackfillNotLaunched,
        graphql_over_http,
        launch_when_ready,
    )

    def launch() -> None:
        post = graphql_over_http(f"http://{HOST}:{port}")
        try:
            backfill_id = launch_when_ready(
                post, SUBMIT_ASSETS, partitions, alive=lambda: process.poll() is None
            )
        except BackfillNotLaunched as error:
            print(f"extend-assets dev: the backfill was not launched: {error}", file=sys.stderr)
            for line in ui_steps(partitions, port):
                print(line, file=sys.stderr)
            return
        if backfill_id is not None:
            print(
                f"Launched backfill {backfill_id} of the sample days: "
                f"http://{HOST}:{port}/runs/b/{backfill_id}",
                flush=True,
            )

    thread = threading.Thread(target=launch, name="extend-assets-backfill", daemon=True)
    thread.start()
    return thread


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from extend_assets.localstack import LocalStack

    if port_in_use(HOST, args.port):
        print(busy_port_message(args.port), file=sys.stderr)
        return 2
    home = Path(args.home).resolve()
    install_dagster_yaml(home, overwrite=False)
    with LocalStack(
        documents=args.documents,
        days=args.days,
        emulator_latency=args.latency,
        emulator_state=str(home / "emulator.sqlite"),
        end_date=sample_end_date(),
    ) as stack:
        env = dev_environment(stack, home, args.review_policy)
        print_startup(stack, env, args.port, backfill=args.backfill)
        # Its own process group: Ctrl-C or SIGTERM here is passed on as one SIGINT (what
        # dagster dev shuts down cleanly on), and nothing of it outlives this command.
        process = subprocess.Popen(dagster_dev_command(args.port), env=env, start_new_session=True)
        signal.signal(signal.SIGTERM, _interrupt)
        if args.backfill:
            partitions = sorted({doc.partition for doc in stack.documents})
            backfill_in_background(partitions, args.port, process)
        try:
            return process.wait()
        except KeyboardInterrupt:
            shutdown(process)
            return 0


def shutdown(process: subprocess.Popen[bytes], grace_seconds: float = 30) -> None:
    """Stop dagster dev's group; a second Ctrl-C / SIGTERM during the grace kills it at once
    (it must not leave the web server and daemon running behind this command)."""
    try:
        stop_group(process, grace_seconds)
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def stop_group(process: subprocess.Popen[bytes], grace_seconds: float = 30) -> None:
    """SIGINT to dagster dev's process group; SIGKILL to what is left after the grace."""
    for sig, wait in ((signal.SIGINT, grace_seconds), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader exited; its group may still hold the webserver or daemon
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
