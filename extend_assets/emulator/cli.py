"""``extend-assets emulator``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from extend_assets.emulator.config import DEFAULT_API_KEY
from extend_assets.emulator.server import EmulatorServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    parser.add_argument("--config", help="workflow file (YAML/JSON); default: the sample")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help=f"accepted key (default {DEFAULT_API_KEY})",
    )
    parser.add_argument("--state", help="SQLite file that keeps runs across restarts")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per run (default 0.5)")
    parser.add_argument("--runs-per-minute", type=float, help="throughput cap (default none)")
    parser.add_argument("--requests-per-second", type=float, help="answer 429 above this rate")
    parser.add_argument("--webhook-url", help="POST signed workflow_run.* events here")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook-url")


def run(args: argparse.Namespace) -> int:
    server = EmulatorServer(
        args.host,
        args.port,
        config_path=args.config,
        api_keys=tuple(args.api_keys or [DEFAULT_API_KEY]),
        state_path=args.state,
        latency=args.latency,
        runs_per_minute=args.runs_per_minute,
        requests_per_second=args.requests_per_second,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    with server:
        print(f"Extend emulator (API 2025-04-21) on {server.base_url}", flush=True)
        print(
            f"  export EXTEND_BASE_URL={server.base_url} EXTEND_API_KEY={server.api_key}",
            flush=True,
        )
        for workflow in server.backend.workflows.values():
            versions = ", ".join(workflow.versions)
            print(f"  workflow {workflow.id} ({workflow.name}; versions {versions})", flush=True)
        try:
            print("  Ctrl-C to stop.", flush=True)  # inside: a Ctrl-C right after is handled
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping.")
    return 0
