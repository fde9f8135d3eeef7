# mypy: ignore-errors
# (type-checked against extend-ai 0.2.0, the venv's; this file runs with 1.20.0)
"""Verifies and parses webhook deliveries with the official SDK 1.20.0 helpers:
``python sdk120_webhooks.py DELIVERIES.json SECRET`` prints one JSON line per event
(its type, whether the SDK typed it, whether it came as a signed data URL)."""

from __future__ import annotations

import json
import sys


def main(path: str, secret: str) -> None:
    from extend_ai import Extend

    hooks = Extend(token="unused").webhooks
    with open(path, encoding="utf-8") as handle:
        deliveries = json.load(handle)
    for delivery in deliveries:
        event = hooks.verify_and_parse(
            delivery["body"], delivery["headers"], secret, allow_signed_url=True
        )
        signed = hooks.is_signed_url_event(event)
        if signed:
            event = hooks.fetch_signed_payload_sync(event)
        typed = not isinstance(event, dict)
        kind = event.event_type if typed else event.get("eventType")
        payload = event.payload if typed else None
        steps = [s.step_type for s in payload.step_runs] if typed else []
        print(json.dumps({"type": kind, "typed": typed, "signed": signed, "steps": steps}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
