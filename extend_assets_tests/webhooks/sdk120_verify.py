# mypy: ignore-errors
# (runs with extend-ai 1.20.0 on PYTHONPATH, see extend_assets_tests/emulator/sdk120.py)
"""The SDK's own verdicts: ``python sdk120_verify.py DELIVERIES.json`` prints one JSON
list of booleans, True where ``Webhooks.verify`` of SDK 1.20 accepts the delivery with
one of its secrets at its ``now`` (the SDK's clock is pinned per delivery)."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import types


def main(path: str) -> None:
    from extend_ai.wrapper import webhooks as module

    hooks = module.Webhooks()
    with open(path, encoding="utf-8") as handle:
        deliveries = json.load(handle)
    verdicts = []
    for delivery in deliveries:
        now = delivery["now"]
        module.time = types.SimpleNamespace(time=lambda now=now: now)
        body = base64.b64decode(delivery["body"])
        accepted = False
        for secret in delivery["secrets"]:
            # verify() lets a body that is not UTF-8 or a non-ASCII signature raise
            with contextlib.suppress(Exception):
                accepted = accepted or hooks.verify(
                    body, delivery["headers"], secret, max_age_seconds=delivery["max_age"]
                )
        verdicts.append(accepted)
    print(json.dumps(verdicts))


if __name__ == "__main__":
    main(sys.argv[1])
