"""The receiver over HTTP (uvicorn in a subprocess): what it refuses, counts and lands."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from extend_assets.webhooks.errors import PayloadFetchError
from extend_assets.webhooks.fetch import fetch_signed_payload
from extend_assets.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from extend_assets_tests.ports import free_port
from extend_assets_tests.webhooks.conftest import (
    SECRET,
    Receiver,
    all_text,
    event_body,
    landed_files,
)

LIMIT = 64 * 1024
URL_SIGNATURE = "X-Amz-Signature=5ecre7deadbeef"
RUN = {
    "object": "workflow_run",
    "id": "workflow_run_big",
    "status": "PROCESSED",
    "batchId": "batch_big",
    "files": [{"object": "file", "presignedUrl": f"https://s3/f.pdf?{URL_SIGNATURE}"}],
}


class _Payloads(BaseHTTPRequestHandler):
    """Serves the run behind a signed data URL (``/run?...``), or 300 KB (``/huge?...``)."""

    def do_GET(self) -> None:
        body = json.dumps(RUN).encode() if self.path.startswith("/run") else b"[" * 300_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def payloads() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Payloads)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("landing")


@pytest.fixture(scope="module")
def receiver(landing: Path) -> Iterator[Receiver]:
    receiver = Receiver(
        str(landing),
        landing.parent / "receiver.log",
        extra_args=("--max-body-bytes", str(LIMIT), "--allow-http-data-urls"),
    )
    receiver.start()
    yield receiver
    receiver.stop()


def _refused(receiver: Receiver, before: dict[str, Any], reason: str) -> int:
    now = receiver.counters()
    return int(now["refused"].get(reason, 0) - before["refused"].get(reason, 0))


def test_a_signed_event_is_landed_once_and_a_redelivery_is_a_duplicate(
    receiver: Receiver, landing: Path
) -> None:
    body = event_body("event_ok1", batchId="batch_1")
    first, again = receiver.post(body), receiver.post(body)
    assert (first.status_code, first.json()["status"]) == (200, "landed")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert [p.name.split("_", 1)[1] for p in landed_files(landing)] == ["event_ok1.json"]
    counters = receiver.counters()
    assert counters["accepted"] >= 1 and counters["duplicate"] >= 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("forged", "bad_signature"),
        ("unsigned", "missing_signature"),
        ("stale", "stale_timestamp"),
        ("future", "future_timestamp"),
        ("replayed_old_signature", "bad_signature"),
    ],
)
def test_unproven_requests_get_401_and_nothing_lands(
    receiver: Receiver, landing: Path, case: str, reason: str
) -> None:
    body = event_body(f"event_{case}")
    now = int(time.time())
    headers = {
        "forged": {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(body, "wss_guess", now)},
        "unsigned": {},
        "stale": {
            TIMESTAMP_HEADER: str(now - 3600),
            SIGNATURE_HEADER: sign(body, SECRET, now - 3600),
        },
        "future": {
            TIMESTAMP_HEADER: str(now + 900),
            SIGNATURE_HEADER: sign(body, SECRET, now + 900),
        },
        # captured an hour ago, timestamp header bumped to now: the signature no longer fits
        "replayed_old_signature": {
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign(body, SECRET, now - 3600),
        },
    }[case]
    before = receiver.counters()
    answer = receiver.post(body, headers)
    assert answer.status_code == 401 and answer.json()["reason"] == reason
    assert _refused(receiver, before, reason) == 1
    assert not [p for p in landed_files(landing) if case in p.name]
    assert not (landing / "ids" / f"event_{case}").exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"eventId": "event_x", "eventType": ', "malformed_json"),
        (b'{"eventType": "workflow_run.completed", "payload": {}}', "bad_envelope"),
    ],
)
def test_signed_but_malformed_bodies_get_400(
    receiver: Receiver, landing: Path, body: bytes, reason: str
) -> None:
    before, count = receiver.counters(), len(landed_files(landing))
    answer = receiver.post(body)
    assert answer.status_code == 400 and answer.json()["reason"] == reason
    assert _refused(receiver, before, reason) == 1
    assert len(landed_files(landing)) == count


def _status_line(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_body_declared_too_large_gets_413_before_it_is_sent(
    receiver: Receiver, landing: Path
) -> None:
    before, count = receiver.counters(), len(landed_files(landing))
    body = event_body("event_declared_big")
    stamp = int(time.time())
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {LIMIT + 1}\r\n{TIMESTAMP_HEADER}: {stamp}\r\n"
        f"{SIGNATURE_HEADER}: {sign(body, SECRET, stamp)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(head)  # the body never follows: the answer must not wait for it
        assert _status_line(sock) == 413
    assert _refused(receiver, before, "too_large") == 1
    assert len(landed_files(landing)) == count


def test_a_streamed_body_is_cut_off_at_the_limit_with_413(
    receiver: Receiver, landing: Path
) -> None:
    before, count = receiver.counters(), len(landed_files(landing))
    stamp = int(time.time())  # well-formed headers: bad ones are refused before the body
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{TIMESTAMP_HEADER}: {stamp}\r\n{SIGNATURE_HEADER}: {sign(b'x', SECRET, stamp)}\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b" " * 4096
    sent = 0
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
        sock.sendall(head)
        for _ in range(4 * LIMIT // len(piece)):  # bounded: 4x the limit at most
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sent += len(piece)
            if select.select([sock], [], [], 0.05)[0]:
                break  # answered before the body ended
        assert _status_line(sock) == 413
    assert LIMIT < sent < 4 * LIMIT
    assert _refused(receiver, before, "too_large") == 1
    assert len(landed_files(landing)) == count


def test_event_types_it_does_not_land_are_acknowledged_and_counted(
    receiver: Receiver, landing: Path
) -> None:
    before, count = receiver.counters(), len(landed_files(landing))
    for n, kind in enumerate(
        ["workflow_run.step_run.processed", "something.new", "workflow_run.cancelled"]
    ):
        answer = receiver.post(event_body(f"event_other{n}", kind))
        assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert receiver.counters()["ignored"] - before["ignored"] == 3
    assert len(landed_files(landing)) == count


def test_a_signed_data_url_event_lands_the_full_run_never_the_url(
    receiver: Receiver, landing: Path, payloads: str
) -> None:
    url = f"{payloads}/run?{URL_SIGNATURE}"
    body = json.dumps(
        {"eventId": "event_url1", "eventType": "workflow_run.completed", "payload": {"data": url}}
    ).encode()
    answer = receiver.post(body)
    assert (answer.status_code, answer.json()["status"]) == (200, "landed")
    (landed,) = [p for p in landed_files(landing) if "event_url1" in p.name]
    record = json.loads(landed.read_text())
    assert record["deliveredAs"] == "signed_data_url"
    assert (record["runId"], record["batchId"]) == ("workflow_run_big", "batch_big")
    assert record["payload"]["files"][0]["presignedUrl"] is None
    assert receiver.post(body).json()["status"] == "duplicate"


def test_an_unreachable_signed_data_url_gets_502_so_extend_retries(
    receiver: Receiver, landing: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/gone?{URL_SIGNATURE}"
    body = json.dumps(
        {"eventId": "event_url2", "eventType": "workflow_run.failed", "payload": {"data": url}}
    ).encode()
    assert receiver.post(body).status_code == 502
    assert not [p for p in landed_files(landing) if "event_url2" in p.name]
    assert receiver.counters()["failed"]["fetch"] >= 1


def test_signed_payload_fetches_are_bounded(payloads: str) -> None:
    with pytest.raises(PayloadFetchError, match=r"bytes") as caught:
        fetch_signed_payload(f"{payloads}/huge?{URL_SIGNATURE}", max_bytes=1000, allow_http=True)
    assert "Signature" not in str(caught.value)
    with pytest.raises(PayloadFetchError, match="not https"):
        fetch_signed_payload(f"{payloads}/run?{URL_SIGNATURE}")


def test_healthz_and_the_logs_and_landing_zone_hold_no_secret(
    receiver: Receiver, landing: Path
) -> None:
    """Self-contained: xdist may run this module's other tests in another worker."""
    before = receiver.counters()["refused_total"]
    body = event_body("event_health1")
    now = int(time.time())
    forged = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(body, "wss_guess", now)}
    assert receiver.post(body, forged).status_code == 401
    assert receiver.post(body).json()["status"] in {"landed", "duplicate"}
    health = receiver.health()
    assert health["status"] == "ok" and health["apiVersion"] == "2025-04-21"
    assert health["counters"]["refused_total"] == before + 1
    logs = receiver.log_text()
    assert "POST / 401 refused:bad_signature" in logs and "POST / 200 landed event_health1" in logs
    for text in (logs, all_text(landing), json.dumps(health)):
        assert SECRET not in text
        assert "5ecre7deadbeef" not in text


def _run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "extend_assets.webhooks.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("EXTEND_WEBHOOK")}


def test_cli_without_the_secret_variable_exits_2_naming_it(tmp_path: Path) -> None:
    done = _run_cli(
        "--landing", str(tmp_path), "--api-version", "2026-02-09", "--secret-env", "MY_HOOK_SECRET",
        env=_clean_env(),
    )  # fmt: skip
    assert done.returncode == 2
    assert "MY_HOOK_SECRET is not set" in done.stderr


def test_cli_on_a_busy_port_exits_2_naming_the_fix(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = _run_cli(
            "--port", str(port), "--landing", str(tmp_path), "--api-version", "2025-04-21",
            env={**_clean_env(), "EXTEND_WEBHOOK_SECRET": SECRET},
        )  # fmt: skip
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr and SECRET not in done.stdout + done.stderr


def test_cli_has_no_secret_flag() -> None:
    done = _run_cli("--help", env=_clean_env())
    assert done.returncode == 0 and "--secret-env" in done.stdout
    assert "--secret " not in done.stdout and "--webhook-secret" not in done.stdout


_BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
"""


def test_the_package_never_imports_dagster() -> None:
    code = _BLOCK.format(blocked={"dagster", "dagster_aws", "dagster_duckdb_pandas"}) + (
        "import extend_assets.webhooks, extend_assets.webhooks.app, extend_assets.webhooks.cli\n"
        "from extend_assets.webhooks import *\n"
        "assert not any(m.startswith('dagster') for m in sys.modules), sorted(sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_without_the_extra_the_cli_says_what_to_install(tmp_path: Path) -> None:
    code = _BLOCK.format(blocked={"uvicorn", "starlette"}) + (
        "from extend_assets.webhooks.cli import main\n"
        f"sys.exit(main(['--landing', {str(tmp_path)!r}, '--api-version', '2025-04-21']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**_clean_env(), "EXTEND_WEBHOOK_SECRET": SECRET},
    )
    assert done.returncode == 2
    assert "pip install 'extend-assets[webhooks]'" in done.stderr
