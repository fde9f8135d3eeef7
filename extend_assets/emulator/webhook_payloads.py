"""Webhook payloads rendered in the API version the endpoint is pinned to.

Extend pins each webhook endpoint to one API version (reference-2026 §7.1); the payload
of a ``workflow_run.*`` event is the run in that version's shape, whatever version
created the run. ``workflow_run.cancelled`` exists only in 2026-02-09. A payload larger
than the endpoint's threshold is replaced by a signed data URL the emulator serves for
an hour: ``{"data": url}`` in 2025, ``{"object": "signed_data_url", "data": url, "id",
"metadata"}`` in 2026. Delivery (signing, retries) stays in :mod:`webhooks`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extend_assets.emulator import wire, wire_2026
from extend_assets.emulator.versions import API_2025, API_2026, VERSIONS

SIGNED_URL_SECONDS = 3600
EVENTS_2026_ONLY = frozenset({"workflow_run.cancelled"})


class PayloadStore:
    """Payloads behind signed data URLs, each readable until it expires."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}

    def put(self, payload: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._items[token] = (now + SIGNED_URL_SECONDS, payload)
        return token

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(token)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]


@dataclass
class WebhookEndpoint:
    """Where events go and how they look: ``api_version`` pins the payload shape;
    payloads over ``url_threshold_bytes`` (None: never) go out as signed data URLs."""

    url: str
    secret: str = field(repr=False)
    api_version: str = API_2025
    url_threshold_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.api_version not in VERSIONS:
            raise ValueError(
                f"webhook api_version {self.api_version!r} is unknown; use one of "
                f"{', '.join(VERSIONS)}"
            )


def render_payload(
    record: dict[str, Any],
    event_type: str,
    endpoint: WebhookEndpoint,
    store: PayloadStore,
    base_url: str,
) -> dict[str, Any] | None:
    """The ``payload`` of the event for this endpoint, or None if its version has no
    such event."""
    if endpoint.api_version == API_2025 and event_type in EVENTS_2026_ONLY:
        return None
    is_2026 = endpoint.api_version == API_2026
    payload = wire_2026.full_run(record) if is_2026 else wire.full_run(record)
    threshold = endpoint.url_threshold_bytes
    if threshold is None or len(json.dumps(payload).encode()) <= threshold:
        return payload
    url = f"{base_url}/_emulator/webhook_payloads/{store.put(payload)}"
    if not is_2026:
        return {"data": url}
    return {
        "object": "signed_data_url",
        "data": url,
        "id": record["id"],
        "metadata": dict(record.get("metadata") or {}),
    }
