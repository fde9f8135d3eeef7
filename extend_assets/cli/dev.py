"""``extend-assets dev``: the local stack plus ``dagster dev``, for the UI offline.

The UI then shows the assets, partitions, sensor and checks against the emulator
and the local S3; a backfill launched from it runs end to end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from extend_assets.cli.demo import PROJECT_DAGSTER_YAML


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--documents", type=int, default=60, help="sample documents to seed")
    parser.add_argument("--days", type=int, default=3, help="days (partitions) to spread them over")
    parser.add_argument("--home", default=".dagster_home", help="DAGSTER_HOME (kept between runs)")
    parser.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (127.0.0.1)")
    parser.add_argument("--latency", type=float, default=0.5, help="emulator seconds per run")


def run(args: argparse.Namespace) -> int:
    from extend_assets.localstack import LocalStack

    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    with LocalStack(
        documents=args.documents,
        days=args.days,
        emulator_latency=args.latency,
        emulator_state=str(home / "emulator.sqlite"),
    ) as stack:
        env = {**os.environ, **stack.env(), "DAGSTER_HOME": str(home)}
        env["EXTEND_START_DATE"] = min(doc.partition for doc in stack.documents)
        print("Local stack is up:")
        for name, value in stack.env().items():
            print(f"  {name}={value}")
        print(f"Starting dagster dev on http://127.0.0.1:{args.port} (Ctrl-C stops everything)")
        command = [
            sys.executable, "-m", "dagster", "dev",
            "-w", str(Path(__file__).resolve().parents[2] / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(args.port),
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            return 0
