"""``extend-assets emulator``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from extend_assets.emulator.config import DEFAULT_API_KEY
from extend_assets.emulator.server import EmulatorServer
from extend_assets.emulator.versions import API_2025, VERSIONS


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
    parser.add_argument(
        "--requests-per-second",
        "--account-requests-per-second",
        dest="requests_per_second",
        type=float,
        help="the account's limit, across all clients: a token bucket (burst = one second's "
        "worth) answers 429 with Retry-After above it (default none)",
    )
    parser.add_argument("--webhook-url", help="POST signed workflow_run.* events here")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook-url")
    parser.add_argument(
        "--webhook-api-version",
        default=API_2025,
        choices=VERSIONS,
        help=f"the version --webhook-url is pinned to: its payloads' shape (default {API_2025})",
    )
    parser.add_argument(
        "--webhook-url-threshold",
        type=int,
        help="send payloads over this many bytes as signed data URLs (default: never)",
    )


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
        webhook_api_version=args.webhook_api_version,
        webhook_url_threshold_bytes=args.webhook_url_threshold,
    )
    with server:
        print(f"Extend emulator (API {' and '.join(VERSIONS)}) on {server.base_url}", flush=True)
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
