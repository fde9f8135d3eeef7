"""``extend-assets local-stack``: the emulator and S3 with samples, until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import threading
from datetime import UTC, date, datetime, timedelta

from extend_assets.localstack.stack import LocalStack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--documents", type=int, default=200, help="sample documents (default 200)")
    parser.add_argument("--days", type=int, default=3, help="daily partitions (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (default 7)")
    parser.add_argument("--s3-port", type=int, default=9010, help="S3 port (default 9010)")
    parser.add_argument(
        "--emulator-port", type=int, default=8787, help="emulator port (default 8787)"
    )
    parser.add_argument("--latency", type=float, default=0.5, help="emulator seconds per run")
    parser.add_argument("--state", help="emulator SQLite state file (keeps runs across restarts)")
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=1),
        help="last sample day, YYYY-MM-DD (default yesterday, inside the UI's backfill window)",
    )


def run(args: argparse.Namespace) -> int:
    stack = LocalStack(
        args.documents,
        args.days,
        args.seed,
        s3_port=args.s3_port,
        emulator_port=args.emulator_port,
        emulator_latency=args.latency,
        emulator_state=args.state,
        end_date=args.end_date,
    )
    with stack:
        partitions = sorted({doc.partition for doc in stack.documents})
        print(
            f"Local stack up: {len(stack.documents)} documents in s3://{stack.bucket}/{stack.prefix}"
            f" over {partitions[0]}..{partitions[-1]}",
            flush=True,
        )
        print("Export these to point the code location (or boto3) at it:", flush=True)
        env = {**stack.env(), "EXTEND_START_DATE": partitions[0]}
        for name, value in env.items():
            print(f"  export {name}={shlex.quote(value)}", flush=True)
        try:
            print("Ctrl-C to stop.", flush=True)  # inside: a Ctrl-C right after is handled
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping.")
    return 0
