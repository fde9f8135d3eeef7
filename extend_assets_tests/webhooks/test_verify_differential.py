"""Differential: our verify and the receiver over HTTP agree with Extend's SDK 1.20 verify.

Over several hundred generated deliveries (valid, wrong secret, one byte tampered, window
edges, header shapes, odd bodies), each judged three ways: the SDK's ``Webhooks.verify``
(installed as the SDK 1.20 contract tests do, run in a subprocess), our ``verify``, and
the real receiver on loopback (401 or not). Any disagreement fails the test, and the
receiver never answers 500 nor logs an ERROR for an unauthenticated request.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from extend_assets.webhooks.app import ReceiverConfig, create_app
from extend_assets.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Secrets,
    SignatureError,
    sign,
    verify,
)
from extend_assets.webhooks.stores import DirectoryLandingZone
from extend_assets_tests.emulator.sdk120 import install_sdk120, run_with_sdk120, sdk_cache_dir
from extend_assets_tests.ports import free_port
from extend_assets_tests.webhooks.conftest import event_body, wait_for

HERE = Path(__file__).resolve().parent
ROTATION = ("wss_old_secret_0123", "wss_new_secret_4567")
NOW = 1_800_000_000


@dataclass
class Delivery:
    label: str
    body: bytes
    headers: list[tuple[str, str]]
    now: float
    http: bool = True  # sendable as is (latin-1 values, no edge whitespace a server strips)

    def grouped(self) -> dict[str, list[str]]:
        """Headers as an HTTP server hands them over: a name sent twice is a list."""
        out: dict[str, list[str]] = {}
        for name, value in self.headers:
            out.setdefault(name.lower(), []).append(value)
        return out


def _generate() -> list[Delivery]:
    rng = random.Random(22)
    out: list[Delivery] = []
    ts, sg = TIMESTAMP_HEADER, SIGNATURE_HEADER

    def add(label: str, body: bytes, stamp: str, signature: str, **kw: Any) -> None:
        now = kw.pop("now", NOW + rng.choice([0.0, 0.25, 0.999]))
        out.append(Delivery(label, body, [(ts, stamp), (sg, signature)], now, **kw))

    bodies = [event_body(f"evt_{i}", note="é ☃ \U0001f600" * (i % 3)) for i in range(48)]
    for i, body in enumerate(bodies):
        secret = ROTATION[i % 2]
        add("valid", body, str(NOW), sign(body, secret, NOW))
        add("wrong secret", body, str(NOW), sign(body, "wss_other", NOW))
        tampered = bytearray(body)
        tampered[rng.randrange(len(body))] ^= 1 << rng.randrange(7)
        add("body byte flipped", bytes(tampered), str(NOW), sign(body, secret, NOW))
        signature = sign(body, secret, NOW)
        at = rng.randrange(64)
        flipped = signature[:at] + ("0" if signature[at] != "0" else "1") + signature[at + 1 :]
        add("signature char changed", body, str(NOW), flipped)
        add("timestamp changed", body, str(NOW + 1), signature)
    body = bodies[0]
    for offset in (-302, -301, -300, -299, -1, 0, 1, 59, 60, 61, 62, 301):
        for fraction in (0.0, 0.5, 0.999):
            stamp = NOW + offset
            add(f"window {offset}", body, str(stamp), sign(body, ROTATION[0], stamp),
                now=NOW + fraction)  # fmt: skip
    good = sign(body, ROTATION[1], NOW)
    shapes: list[tuple[str, list[tuple[str, str]], bool]] = [
        ("upper-case hex", [(ts, str(NOW)), (sg, good.upper())], True),
        ("padded, signed padded", [(ts, "0" + str(NOW)), (sg, sign(body, ROTATION[1], "0" + str(NOW)))], True),
        ("padded, signed plain", [(ts, "0" + str(NOW)), (sg, good)], True),
        ("plus sign, signed as sent", [(ts, f"+{NOW}"), (sg, sign(body, ROTATION[1], f"+{NOW}"))], True),
        ("underscores, signed as sent", [(ts, "1_800_000_000"), (sg, sign(body, ROTATION[1], "1_800_000_000"))], True),
        ("decimal point", [(ts, f"{NOW}.0"), (sg, sign(body, ROTATION[1], f"{NOW}.0"))], True),
        ("superscript two", [(ts, "\u00b2"), (sg, sign(body, ROTATION[1], "\u00b2"))], True),
        ("arabic-indic digits", [(ts, "\u0661\u0668" + "\u0660" * 8), (sg, sign(body, ROTATION[1], "\u0661\u0668" + "\u0660" * 8))], False),
        ("stray byte after signature", [(ts, str(NOW)), (sg, good + "\u00ff")], True),
        ("stray letter after signature", [(ts, str(NOW)), (sg, good + "x")], True),
        ("signature cut short", [(ts, str(NOW)), (sg, good[:-1])], True),
        ("v0= prefix", [(ts, str(NOW)), (sg, "v0=" + good)], True),
        ("spaces around signature", [(ts, str(NOW)), (sg, f" {good} ")], False),
        ("spaces around timestamp", [(ts, f" {NOW} "), (sg, sign(body, ROTATION[1], f" {NOW} "))], False),
        ("two signatures, valid first", [(ts, str(NOW)), (sg, good), (sg, "ab" * 32)], True),
        ("two signatures, valid second", [(ts, str(NOW)), (sg, "ab" * 32), (sg, good)], True),
        ("two timestamps, right first", [(ts, str(NOW)), (ts, str(NOW - 9)), (sg, good)], True),
        ("two timestamps, right second", [(ts, str(NOW - 9)), (ts, str(NOW)), (sg, good)], True),
        ("no timestamp", [(sg, good)], True),
        ("no signature", [(ts, str(NOW))], True),
        ("no headers", [], True),
        ("empty timestamp", [(ts, ""), (sg, good)], True),
        ("empty signature", [(ts, str(NOW)), (sg, "")], True),
        ("negative timestamp", [(ts, str(-NOW)), (sg, sign(body, ROTATION[1], -NOW))], True),
        ("huge timestamp", [(ts, "9" * 5000), (sg, good)], True),
        ("timestamp in ms", [(ts, str(NOW * 1000)), (sg, sign(body, ROTATION[1], NOW * 1000))], True),
        ("header names upper-case", [(ts.upper(), str(NOW)), (sg.upper(), good)], True),
        ("latin-1 junk timestamp", [(ts, "\u00e9\u00ff"), (sg, good)], True),
        ("lone surrogate signature", [(ts, str(NOW)), (sg, "\ud800" * 64)], False),
    ]  # fmt: skip
    for label, headers, http_ok in shapes:
        out.append(Delivery(label, body, headers, NOW + 0.5, http=http_ok))
    odd = [b"", b"{}", b"not json", b"\xff\xfe\x00", b"\xef\xbb\xbf" + body, "ü".encode("latin-1"),
           json.dumps({"eventId": "e" * 200}).encode(), b"[" * 1000, b'{"a":"\\ud800"}',
           body + b"\r\n", "\u2028".encode()]  # fmt: skip
    for i, odd_body in enumerate(odd):
        for secret in (ROTATION[0], "wss_other"):
            add(f"odd body {i}", odd_body, str(NOW), sign(odd_body, secret, NOW))
    return out


def _ours(delivery: Delivery) -> bool:
    try:
        verify(
            delivery.body, delivery.grouped(), Secrets(ROTATION), tolerance=300, now=delivery.now
        )
    except SignatureError:
        return False
    return True


@pytest.fixture(scope="module")
def sdk120() -> Path:
    return install_sdk120(sdk_cache_dir())


@pytest.fixture
def receiver_url(tmp_path: Path) -> Iterator[tuple[str, list[float]]]:
    import uvicorn

    clock = [float(NOW)]
    config = ReceiverConfig(
        landing=DirectoryLandingZone(tmp_path / "landing"),
        secrets=Secrets(ROTATION),
        api_version="2025-04-21",
        clock=lambda: clock[0],
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config), host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, timeout=60)
    try:
        yield f"127.0.0.1:{port}", clock
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _over_http(address: str, delivery: Delivery) -> int:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", "/")
        for name, value in delivery.headers:
            connection.putheader(name, value.encode("latin-1"))
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(delivery.body)))
        connection.endheaders(delivery.body)
        return connection.getresponse().status
    finally:
        connection.close()


def test_receiver_verifies_exactly_as_the_sdk_over_generated_deliveries(
    sdk120: Path,
    receiver_url: tuple[str, list[float]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliveries = _generate()
    assert len(deliveries) >= 300
    path = tmp_path / "deliveries.json"
    path.write_text(
        json.dumps(
            [
                {
                    "body": base64.b64encode(d.body).decode(),
                    "headers": d.grouped(),
                    "now": d.now,
                    "secrets": list(ROTATION),
                    "max_age": 300,
                }
                for d in deliveries
            ]
        ),
        encoding="utf-8",
        errors="surrogatepass",
    )
    sdk = json.loads(run_with_sdk120(sdk120, str(HERE / "sdk120_verify.py"), str(path)))
    address, clock = receiver_url
    disagreements: list[str] = []
    statuses: dict[str, int] = {}
    with caplog.at_level(logging.INFO, logger="extend_assets.webhooks"):
        for delivery, expected in zip(deliveries, sdk, strict=True):
            ours = _ours(delivery)
            if ours != expected:
                disagreements.append(f"verify: {delivery.label}: sdk={expected} ours={ours}")
            if not delivery.http:
                continue
            clock[0] = delivery.now
            status = _over_http(address, delivery)
            statuses[delivery.label] = status
            if status == 500 or (status != 401) != expected:
                disagreements.append(f"http: {delivery.label}: sdk={expected} status={status}")
    assert not disagreements, "\n".join(disagreements)
    assert sum(sdk) >= 60 and len(sdk) - sum(sdk) >= 200  # both verdicts well represented
    assert sum(d.http for d in deliveries) >= 300
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
