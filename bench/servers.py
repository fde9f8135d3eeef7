"""Serve a local S3 and the emulator for a benchmark in another process.

Prints one JSON line with their addresses, then serves until stdin closes.
``python -m bench.servers '{"runs_per_minute": 0}'`` (emulator options as JSON).
"""

from __future__ import annotations

import json
import sys

from extend_assets.emulator import EmulatorServer
from extend_assets.emulator.config import WebhookDelivery
from extend_assets.localstack import LocalS3Server


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if "webhook_delivery" in options:
        options["webhook_delivery"] = WebhookDelivery(**options["webhook_delivery"])
    with LocalS3Server(port=0) as s3, EmulatorServer(port=0, **options) as emulator:
        print(json.dumps({"s3": s3.endpoint_url, "emulator": emulator.base_url}), flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin


if __name__ == "__main__":
    main()
