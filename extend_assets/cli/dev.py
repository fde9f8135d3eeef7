"""``extend-assets dev``: the local stack plus ``dagster dev``, for the UI offline.

The UI then shows the assets, partitions, sensor and checks against the emulator
and the local S3; a backfill launched from it runs end to end. Everything it needs
ships in the package: the instance settings (``extend_assets/cli/dagster.yaml``) and
the code location (``dagster dev -m extend_assets.definitions``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from extend_assets.cli.environment import install_dagster_yaml, port_in_use

HOST = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--documents", type=int, default=60, help="sample documents to seed")
    parser.add_argument("--days", type=int, default=3, help="days (partitions) to spread them over")
    parser.add_argument("--home", default=".dagster_home", help="DAGSTER_HOME (kept between runs)")
    parser.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (127.0.0.1)")
    parser.add_argument("--latency", type=float, default=0.5, help="emulator seconds per run")


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
    ) as stack:
        partitions = sorted({doc.partition for doc in stack.documents})
        env = {**os.environ, **stack.env(), "DAGSTER_HOME": str(home)}
        env["EXTEND_START_DATE"] = partitions[0]
        env.setdefault("EXTEND_DUCKDB_PATH", str(home / "extend.duckdb"))
        print("Local stack is up:")
        print(f"  Extend emulator: {stack.emulator.base_url}")
        print(f"  sample documents: {len(stack.documents)} over {', '.join(partitions)}")
        print(f"  tables (DuckDB): {env['EXTEND_DUCKDB_PATH']}")
        for name, value in stack.env().items():
            print(f"  {name}={value}")
        print(f"Starting dagster dev on http://{HOST}:{args.port} (Ctrl-C stops everything)")
        process = subprocess.Popen(dagster_dev_command(args.port), env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            return 0
