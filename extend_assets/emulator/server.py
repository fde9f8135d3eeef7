"""``EmulatorServer``: the emulator on a loopback port, in a thread, with test controls."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from extend_assets.emulator.config import DEFAULT_API_KEY, WebhookDelivery, load_workflows
from extend_assets.emulator.documents import DEFAULT_MAX_FILE_BYTES
from extend_assets.emulator.engine import Engine
from extend_assets.emulator.faults import FaultPlan, Faults
from extend_assets.emulator.routes import EmulatorApp
from extend_assets.emulator.serving import BackgroundServer
from extend_assets.emulator.state import Backend
from extend_assets.emulator.versions import API_2025
from extend_assets.emulator.webhook_payloads import PayloadStore, WebhookEndpoint, render_payload
from extend_assets.emulator.webhooks import WebhookSender


class EmulatorServer:
    """A faithful Extend API on ``http://127.0.0.1:<port>``.

    ``latency`` is the seconds each run takes to process; ``runs_per_minute`` caps
    throughput (runs stay PENDING beyond it, as on Extend; 0 pauses processing); ``requests_per_second``
    turns on 429s; ``state_path`` keeps runs in SQLite across restarts; ``webhook_url``
    gets signed events, delivered (retries, faults) as ``webhook_delivery`` says.

    It serves ``2025-04-21`` and ``2026-02-09`` on the same port, per request by the
    ``x-extend-api-version`` header. The webhook endpoint (``webhook_url``) is pinned to
    ``webhook_api_version``; payloads over ``webhook_url_threshold_bytes`` are sent as
    signed data URLs.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config_path: str | Path | None = None,
        api_keys: Sequence[str] = (DEFAULT_API_KEY,),
        state_path: str | Path | None = None,
        latency: float = 0.0,
        runs_per_minute: float | None = None,
        requests_per_second: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_delivery: WebhookDelivery | None = None,
        webhook_api_version: str = API_2025,
        webhook_url_threshold_bytes: int | None = None,
        workers: int = 4,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        if not api_keys:
            raise ValueError("EmulatorServer needs at least one API key")
        if webhook_url and not webhook_secret:
            raise ValueError("webhook_url needs webhook_secret to sign events with")
        self.host = host
        self._http = BackgroundServer(host, port, "emulator")
        self.api_keys = tuple(api_keys)
        self.backend = Backend(load_workflows(config_path), state_path)
        self.fault_plan = FaultPlan(requests_per_second=requests_per_second)
        self.engine = Engine(
            self.backend,
            workers=workers,
            latency=latency,
            runs_per_minute=runs_per_minute,
            max_file_bytes=max_file_bytes,
            faults=self.fault_plan,
        )
        self.payloads = PayloadStore()
        self.app = EmulatorApp(
            self.backend, self.engine, self.api_keys, self.fault_plan, self.payloads
        )
        self.webhook_endpoint = (
            WebhookEndpoint(
                webhook_url,
                webhook_secret or "",
                webhook_api_version,
                webhook_url_threshold_bytes,
            )
            if webhook_url
            else None
        )
        self.webhooks = (
            WebhookSender(webhook_url, webhook_secret or "", webhook_delivery)
            if webhook_url
            else None
        )
        if self.webhooks is not None:
            self.backend.add_listener(self._send_webhook)

    def _send_webhook(self, record: dict[str, Any], event_type: str) -> None:
        assert self.webhooks is not None and self.webhook_endpoint is not None
        payload = render_payload(
            record, event_type, self.webhook_endpoint, self.payloads, self.base_url
        )
        if payload is not None:
            self.webhooks.send(payload, event_type)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        self._http.start(self.app)
        self.engine.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self.engine.stop()
        if self.webhooks is not None:
            self.webhooks.close()
        self.backend.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.url

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    # -- test controls ------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Requests received per route ("POST /workflow_runs/batch"...), plus "429", "5xx"."""
        with self.app._count_lock:
            return dict(self.app.counters)

    def reset_counters(self) -> None:
        with self.app._count_lock:
            self.app.counters.clear()

    def set_faults(self, **faults: Any) -> None:
        """See :class:`~extend_assets.emulator.faults.Faults` for the knobs."""
        self.fault_plan.set(Faults(**faults))

    def clear_faults(self) -> None:
        self.fault_plan.set(Faults())

    def faults(self) -> dict[str, Any]:
        return asdict(self.fault_plan.faults)

    def set_throughput(
        self, runs_per_minute: float | None = None, latency: float | None = None
    ) -> None:
        self.engine.set_throughput(runs_per_minute, latency)

    def approve(
        self,
        run_id: str,
        reviewed_by: str = "reviewer@example.com",
        edits: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.backend.review(run_id, approve=True, reviewed_by=reviewed_by, edits=edits)

    def reject(
        self,
        run_id: str,
        reason: str = "Rejected by the reviewer.",
        reviewed_by: str = "reviewer@example.com",
    ) -> dict[str, Any]:
        return self.backend.review(run_id, approve=False, reviewed_by=reviewed_by, note=reason)

    def submissions(self) -> list[dict[str, Any]]:
        """One entry per run created, in order (never the file URL: it is a credential)."""
        return self.backend.submissions()

    def runs(self) -> list[dict[str, Any]]:
        return self.backend.runs()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait (bounded) until no run is pending or processing; True if that happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.engine.idle() and self.backend.open_count() == 0:
                return True
            with self.backend.changed:
                self.backend.changed.wait(timeout=0.05)
        return self.engine.idle() and self.backend.open_count() == 0
