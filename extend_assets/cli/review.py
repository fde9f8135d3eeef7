"""``extend-assets review approve|reject RUN_ID``: settle a review on the local emulator.

Extend's reviews happen in its dashboard; the emulator has no dashboard, so this
command plays the reviewer (``POST /_emulator/runs/{id}/approve`` or ``/reject``).
"""

from __future__ import annotations

import argparse
import os
import sys

import requests

DEFAULT_EMULATOR_URL = "http://127.0.0.1:8787"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("approve", "reject"), help="the review outcome")
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="workflow run id(s)")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("EXTEND_BASE_URL") or DEFAULT_EMULATOR_URL,
        help="the emulator's URL (default $EXTEND_BASE_URL, else http://127.0.0.1:8787)",
    )
    parser.add_argument("--reviewer", default="reviewer@example.com", help="recorded reviewer")
    parser.add_argument("--reason", default="rejected in review", help="reason of a rejection")


def run(args: argparse.Namespace) -> int:
    base = args.base_url.rstrip("/")
    failed = 0
    for run_id in args.run_ids:
        body = {"reviewed_by": args.reviewer}
        if args.action == "reject":
            body["reason"] = args.reason
        url = f"{base}/_emulator/runs/{run_id}/{args.action}"
        try:
            response = requests.post(url, json=body, timeout=30)
        except requests.RequestException as error:
            print(
                f"extend-assets review: error: could not reach the emulator at {base} "
                f"({type(error).__name__}); pass --base-url or set EXTEND_BASE_URL.",
                file=sys.stderr,
            )
            return 2
        if response.status_code != 200:
            failed += 1
            print(f"{run_id}: {response.status_code} {response.text.strip()}", file=sys.stderr)
            continue
        status = response.json().get("status")
        print(f"{run_id}: {args.action}d, now {status}")
    return 1 if failed else 0
