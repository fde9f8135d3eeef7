"""The receiver: a Starlette ASGI app that verifies, dedupes and lands Extend events.

``POST /``      one event. Answers, in this order of checks:
                413 declared body above ``max_body_bytes`` (--max-body-bytes),
                401 missing, malformed or stale signature headers (body unread),
                413 body above ``max_body_bytes`` (checked while streaming),
                401 wrong signature, or a body that is not UTF-8,
                400 not JSON or not an event envelope,
                200 ``ignored`` for event types it does not land (unknown ones included),
                502 a ``signed_data_url`` payload could not be fetched (Extend retries),
                503 the landing zone failed (Extend retries),
                500 an unexpected error (counted as failed: internal; Extend retries),
                200 ``landed`` once the event is durably stored, or ``duplicate``.
                Nothing is stored for any refusal.
``GET /healthz`` status, API version, landing zone and the counters.

The access log (logger ``extend_assets.webhooks.access``) has one line per request:
method, path, status, outcome and eventId; never headers, bodies or URLs' queries.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
except ImportError as missing:  # pragma: no cover - depends on the install
    raise ImportError(
        "the webhook receiver needs Starlette and uvicorn: pip install 'extend-assets[webhooks]'"
    ) from missing

from extend_assets.webhooks.body import SPOOL_BYTES, read_envelope
from extend_assets.webhooks.errors import (
    EventError,
    LandingError,
    PayloadFetchError,
    SignatureError,
)
from extend_assets.webhooks.events import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookEvent,
    check_api_version,
    parse_event,
)
from extend_assets.webhooks.fetch import (
    DEFAULT_FETCH_TIMEOUT,
    DEFAULT_MAX_FETCH_BYTES,
    fetch_signed_payload,
)
from extend_assets.webhooks.landing import LandingZone, position_time
from extend_assets.webhooks.signature import (
    DEFAULT_TOLERANCE_SECONDS,
    Secrets,
    request_headers,
    start_verification,
)

MAX_BODY_ENV = "EXTEND_WEBHOOK_MAX_BODY_BYTES"
_DIGITS = re.compile(r"[0-9]{1,20}\Z")
access_log = logging.getLogger("extend_assets.webhooks.access")
logger = logging.getLogger("extend_assets.webhooks")
#: A landing slower than this (from its position's time to ``landed``) is logged.
SLOW_LANDING_SECONDS = 30.0


@dataclass
class ReceiverConfig:
    landing: LandingZone
    secrets: Secrets = field(repr=False)
    api_version: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    max_fetch_bytes: int = DEFAULT_MAX_FETCH_BYTES
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    allow_http_data_urls: bool = False  # only for the emulator on loopback
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        check_api_version(self.api_version)
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes (--max-body-bytes / {MAX_BODY_ENV}) must be positive")


class Counters:
    """accepted, duplicate, ignored, slow landings, refused and failed by reason (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flat: dict[str, int] = {
            "accepted": 0,
            "duplicate": 0,
            "ignored": 0,
            "slow_landings": 0,
        }
        self._refused: dict[str, int] = {}
        self._failed: dict[str, int] = {}

    def add(self, name: str) -> None:
        with self._lock:
            self._flat[name] = self._flat.get(name, 0) + 1

    def refused(self, reason: str) -> None:
        with self._lock:
            self._refused[reason] = self._refused.get(reason, 0) + 1

    def failed(self, reason: str) -> None:
        with self._lock:
            self._failed[reason] = self._failed.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._flat,
                "refused": dict(self._refused),
                "refused_total": sum(self._refused.values()),
                "failed": dict(self._failed),
            }


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class Receiver:
    """The app's two routes over one config and one set of counters."""

    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.counters = Counters()

    async def receive(self, request: Request) -> JSONResponse:
        """``POST /``: refusals and failures become answers here; the rest in :meth:`_handle`."""
        event_id = "-"
        spool: IO[bytes] | None = None
        try:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
            size = await self._read_verified(request, spool)
            event = await self._parsed(spool, size)
            event_id = event.event_id
            return await self._handle(request, event)
        except _Refused as refusal:
            self.counters.refused(refusal.reason)
            return _answer(
                request,
                refusal.status,
                f"refused:{refusal.reason}",
                event_id,
                {"error": str(refusal)},
            )
        except ClientDisconnect:
            self.counters.refused("client_disconnected")
            access_log.info("%s %s - client disconnected", request.method, request.url.path)
            return JSONResponse({}, status_code=400)
        except Exception as error:  # a bug: answer 500 so Extend retries; name the type only
            self.counters.failed("internal")
            logger.error("event %s: unexpected %s", event_id, type(error).__name__)
            return _answer(request, 500, "failed:internal", event_id)
        finally:
            if spool is not None:
                spool.close()

    async def _read_verified(self, request: Request, spool: IO[bytes]) -> int:
        """The body into ``spool`` (memory up to SPOOL_BYTES, then a temp file), its
        signature checked as it streams; its size, or :class:`_Refused` (413 / 401).

        Headers are checked before a byte of the body is read. Nothing an
        unauthenticated caller sends is an error on our side: whatever escapes the
        check is a 401 too, logged at INFO by the access log only.
        """
        config = self.config
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not _DIGITS.match(declared) or int(declared) > limit):
            raise _Refused(413, "too_large", _too_large(limit))
        try:
            verifier = start_verification(
                request_headers(request.headers.raw),
                config.secrets,
                tolerance=config.tolerance_seconds,
                now=config.clock(),
            )
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Refused(413, "too_large", _too_large(limit))
                verifier.update(chunk)
                spool.write(chunk)
            verifier.finish()
        except SignatureError as error:
            raise _Refused(401, error.reason, str(error)) from None
        except (_Refused, ClientDisconnect):
            raise
        except Exception:  # pragma: no cover - the checks raise SignatureError only
            raise _Refused(401, "malformed_signature", "signature headers are malformed") from None
        return size

    async def _parsed(self, spool: IO[bytes], size: int) -> WebhookEvent:
        """The verified body as an event, or :class:`_Refused` (400)."""
        try:
            if size <= SPOOL_BYTES:
                spool.seek(0)
                return parse_event(spool.read(), self.config.api_version)
            return await run_in_threadpool(read_envelope, spool, self.config.api_version)
        except EventError as error:
            raise _Refused(400, error.reason, str(error)) from None

    async def _handle(self, request: Request, event: WebhookEvent) -> JSONResponse:
        """Ignore what is not a run event, resolve a signed data URL, then land durably."""
        event_id = event.event_id
        if not event.is_run_event:
            self.counters.add("ignored")
            return _answer(request, 200, "ignored", event_id, {"eventType": event.event_type})
        delivered_as = "json"
        if event.is_signed_data_url:
            if await run_in_threadpool(self.config.landing.contains, event_id):
                self.counters.add("duplicate")
                return _answer(request, 200, "duplicate", event_id)
            try:
                event = event.with_payload(await self._fetch(event))
            except PayloadFetchError as error:
                self.counters.failed("fetch")
                logger.warning("event %s: %s", event_id, error)
                return _answer(request, 502, "failed:fetch", event_id)
            delivered_as = "signed_data_url"
        landing = self.config.landing
        try:
            result = await run_in_threadpool(lambda: landing.land(event, delivered_as=delivered_as))
        except LandingError as error:
            self.counters.failed("landing")
            logger.error("event %s not landed: %s", event_id, error)
            return _answer(request, 503, "failed:landing", event_id)
        self.counters.add("accepted" if result.landed else "duplicate")
        if result.landed:
            self._check_landing_time(event_id, result.position)
        return _answer(request, 200, "landed" if result.landed else "duplicate", event_id)

    def _check_landing_time(self, event_id: str, position: str) -> None:
        """Warn when a write took long enough to worry a sensor's settle window.

        A sensor's cursor passes positions older than ``webhook_settle_seconds``; an
        event whose write outlasts that is read only once its group is reconciled
        through the API (``webhook_reconcile_after_seconds``): late, never lost.
        """
        seconds = datetime.now(UTC).timestamp() - position_time(position).timestamp()
        if seconds < SLOW_LANDING_SECONDS:
            return
        self.counters.add("slow_landings")
        logger.warning(
            "event %s took %.0f s to land (from its position to 'landed'). Sensors skip "
            "events younger than webhook_settle_seconds (default 120 s): keep that above "
            "the slowest landing, or such events wait for the reconcile through the API "
            "(webhook_reconcile_after_seconds). A slow or overloaded store?",
            event_id,
            seconds,
        )

    async def _fetch(self, event: WebhookEvent) -> Any:
        config = self.config
        return await run_in_threadpool(
            fetch_signed_payload,
            event.payload["data"],
            max_bytes=config.max_fetch_bytes,
            timeout=config.fetch_timeout,
            allow_http=config.allow_http_data_urls,
        )

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "apiVersion": self.config.api_version,
                "landing": self.config.landing.description,
                "counters": self.counters.snapshot(),
            }
        )


def create_app(config: ReceiverConfig) -> Starlette:
    """The ASGI app; ``app.state.counters`` holds the counters."""
    receiver = Receiver(config)
    app = Starlette(
        routes=[
            Route("/", receiver.receive, methods=["POST"]),
            Route("/healthz", receiver.healthz, methods=["GET"]),
        ]
    )
    app.state.counters = receiver.counters
    app.state.config = config
    return app


def _too_large(limit: int) -> str:
    return (
        f"body is above the {limit}-byte limit (--max-body-bytes / {MAX_BODY_ENV}); raise it, "
        "or set the Extend endpoint to deliver large payloads as signed URLs"
    )


def _answer(
    request: Request,
    status: int,
    outcome: str,
    event_id: str,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    access_log.info("%s %s %d %s %s", request.method, request.url.path, status, outcome, event_id)
    status_word, _, reason = outcome.partition(":")
    content: dict[str, Any] = {
        "status": status_word,
        "eventId": None if event_id == "-" else event_id,
    }
    if reason:
        content["reason"] = reason
    content.update(extra or {})
    headers = {"Connection": "close"} if status == 413 else None
    return JSONResponse(content, status_code=status, headers=headers)
