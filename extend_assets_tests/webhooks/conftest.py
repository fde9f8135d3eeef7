"""The receiver as a real uvicorn process on a free loopback port, and signed requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from extend_assets.webhooks.signature import signed_headers
from extend_assets_tests.ports import free_port

SECRET = "wss_test_receiver_secret_0123456789"
#: ``webhook_settle_seconds`` for end-to-end tests with a receiver process. The sensor's
#: cursor passes positions older than this, so it must exceed the longest write of one
#: landed event (several fsyncs): 0.3 s lost an event to the cursor at load average 14,
#: and the group then waited for the 900 s API reconcile. The product default is 120 s.
E2E_SETTLE_SECONDS = 5.0


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (a bound, not an assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def event_body(event_id: str, event_type: str = "workflow_run.completed", **payload: Any) -> bytes:
    run = {"object": "workflow_run", "id": f"workflow_run_{event_id}", "status": "PROCESSED"}
    run.update(payload)
    return json.dumps({"eventId": event_id, "eventType": event_type, "payload": run}).encode()


class Receiver:
    """``extend-assets webhooks`` in a subprocess; ``kill()`` and ``start()`` again."""

    def __init__(
        self,
        landing: str,
        log_path: Path,
        *,
        api_version: str = "2025-04-21",
        secret: str | None = SECRET,
        extra_args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.landing = landing
        self.log_path = log_path
        self.port = port or free_port()
        self.args = [
            sys.executable, "-m", "extend_assets.webhooks.cli",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--landing", landing, "--api-version", api_version,
            *extra_args,
        ]  # fmt: skip
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EXTEND_WEBHOOK")}
        self.env.update(env or {})
        if secret is not None:
            self.env["EXTEND_WEBHOOK_SECRET"] = secret
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, wait: bool = True) -> Receiver:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        if wait and not wait_for(self._healthy, timeout=60):
            self.stop()
            raise RuntimeError(f"receiver did not start:\n{self.log_path.read_text()}")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"receiver exited:\n{self.log_path.read_text()}")
        try:
            return requests.get(self.url + "healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(self.url + "healthz", timeout=5).json()
        return answer

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.health()["counters"]
        return counters

    def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> requests.Response:
        sent = dict(signed_headers(body, SECRET) if headers is None else headers)
        sent.setdefault("Content-Type", "application/json")
        return requests.post(self.url, data=body, headers=sent, timeout=10)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(landing: str | None = None, **kwargs: Any) -> Receiver:
        receiver = Receiver(
            landing or str(tmp_path / "landing"),
            tmp_path / f"receiver-{len(started)}.log",
            **kwargs,
        )
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def landed_files(root: Path) -> list[Path]:
    events = root / "events"
    return sorted(events.glob("*.json")) if events.is_dir() else []


def all_text(root: Path) -> str:
    """Every file under ``root``, as text (to look for secrets in it)."""
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())
