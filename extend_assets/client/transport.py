"""The HTTP road to Extend: one pooled session, auth and version headers, rate limit,
retries, and the rule that a request creating runs is never blindly resent.

Rate: an :class:`~extend_assets.client.adaptive.AdaptiveRateLimiter` paces requests at
``requests_per_second`` and slows down on 429s (many processes on one account converge
to its limit); with ``rate_limit_store`` the processes also share one schedule: every
machine through PostgreSQL (:mod:`extend_assets.client.pg_schedule`), or the processes
of one machine through a locked file (:mod:`extend_assets.client.shared_bucket`).

Retries: 429 always (``Retry-After`` honoured, jittered); 5xx, unusable bodies and broken
connections for requests that create nothing; any error whose 2026 body says
``retryable: true`` likewise, and none whose body says ``retryable: false``. A request
that creates runs is resent only when it certainly never reached Extend (429, no
connection made); otherwise :class:`ExtendOutcomeUnknownError` asks for reconciliation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from extend_assets.client.adaptive import AdaptiveRateLimiter
from extend_assets.client.errors import (
    ExtendConnectionError,
    ExtendError,
    ExtendOutcomeUnknownError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    error_for_status,
)
from extend_assets.client.rate_store import SharedSchedule, open_schedule
from extend_assets.client.redact import redact_text
from extend_assets.client.retry import RetryPolicy, parse_retry_after

logger = logging.getLogger("extend_assets.client")


def _user_agent() -> str:
    try:
        return f"extend-assets/{version('extend-assets')}"
    except PackageNotFoundError:
        return "extend-assets/0.1.0"


def _not_sent(error: requests.ConnectionError) -> bool:
    """True when the request certainly never left: the connection was never made."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    text = repr(error)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "NameResolutionError")
    )


class Transport:
    """Sends one API request with the client's headers, limits and retry rules."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        api_version: str,
        *,
        timeout: float,
        max_retries: int,
        max_retry_time: float,
        requests_per_second: float | None,
        workspace_id: str | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        session: requests.Session | None,
        pool_size: int,
        rate_limit_store: str | None = None,
        rate_share: float = 1.0,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._retry = RetryPolicy(max_retries=max_retries, max_retry_time=max_retry_time)
        if not 0 < rate_share <= 1:
            raise ValueError(f"rate_share must be within (0, 1], got {rate_share}")
        self._limiter = (
            AdaptiveRateLimiter(requests_per_second * rate_share, clock=clock, sleep=sleep)
            if requests_per_second
            else None
        )
        # Shared at the account's whole rate: the adaptive limiter above keeps this
        # client to its share of it.
        self._shared: SharedSchedule | None = open_schedule(
            rate_limit_store,
            base_url=base_url,
            workspace_id=workspace_id,
            api_key=api_key,
            rate_per_second=requests_per_second,
            sleep=sleep,
        )
        self._own_session = session is None
        self._session = session or requests.Session()
        if self._own_session:
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "x-extend-api-version": api_version,
            "User-Agent": _user_agent(),
            "Accept": "application/json",
        }
        if workspace_id:
            self._headers["x-extend-workspace-id"] = workspace_id
        self._count_lock = threading.Lock()
        self._request_count = 0

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
        if self._own_session:
            self._session.close()

    @property
    def limiter(self) -> AdaptiveRateLimiter | None:
        """The adaptive limiter (None when unlimited): its ``rate()`` and counts."""
        return self._limiter

    @property
    def shared_schedule(self) -> SharedSchedule | None:
        """The schedule shared with other processes (None: this process paces alone)."""
        return self._shared

    @property
    def request_count(self) -> int:
        with self._count_lock:
            return self._request_count

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        creates_runs: bool = False,
        subject: str | None = None,
    ) -> dict[str, Any]:
        """Send with retries. Requests that create runs are retried only when they
        cannot have reached Extend (429, no connection made); otherwise the caller
        gets ExtendOutcomeUnknownError to reconcile."""
        action = f"{method} {path}" + (f" ({subject})" if subject else "")
        url = self.base_url + path
        data = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = self._clock()
        retry_number = 0
        while True:
            retry_number += 1
            sent_at = self._limiter.acquire() if self._limiter is not None else 0.0
            if self._shared is not None:
                self._shared.acquire()
            with self._count_lock:
                self._request_count += 1
            logger.debug("%s %s params=%s", method, path, redact_text(str(params or {})))
            outcome = self._attempt(
                method, url, params, data, headers, action=action, creates_runs=creates_runs
            )
            if isinstance(outcome, dict):
                if self._limiter is not None:
                    self._limiter.succeeded()
                return outcome
            error, retry_after = outcome
            if self._limiter is not None and isinstance(error, ExtendRateLimitedError):
                self._limiter.throttled(sent_at)
            delay = self._retry.delay(retry_number, retry_after)
            if not self._retry.allows(retry_number, self._clock() - started, delay):
                error.message += f" (gave up after {retry_number} attempt(s))"
                raise error
            logger.warning(
                "%s: %s; retry %d/%d in %.1f s",
                action,
                error.message,
                retry_number,
                self._retry.max_retries,
                delay,
            )
            self._sleep(delay)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: bytes | None,
        headers: Mapping[str, str],
        *,
        action: str,
        creates_runs: bool,
    ) -> dict[str, Any] | tuple[ExtendError, float | None]:
        """One request: its answer, or an error worth retrying (with Retry-After); raises
        the errors that must not be retried."""
        try:
            response = self._session.request(
                method, url, params=params, data=data, headers=headers, timeout=self.timeout
            )
        except requests.Timeout as exc:
            if creates_runs and not isinstance(exc, requests.ConnectTimeout):
                raise self._unknown(action, "the answer timed out") from None
            return ExtendTimeoutError(f"{action}: no answer within {self.timeout:.0f} s"), None
        except requests.ConnectionError as exc:
            if creates_runs and not _not_sent(exc):
                raise self._unknown(action, "the connection broke") from None
            return ExtendConnectionError(
                f"{action}: could not connect to {self.base_url} ({type(exc).__name__})"
            ), None
        parsed = self._parse(response, action, creates_runs)
        if isinstance(parsed, dict):
            return parsed
        error = parsed
        if isinstance(error, ExtendRateLimitedError):
            return error, error.retry_after
        if creates_runs:
            if isinstance(error, ExtendServerError | ExtendResponseError):
                raise self._unknown(action, f"Extend answered HTTP {response.status_code}")
            raise error  # a 4xx: nothing was created, and a POST is never resent
        if error.retryable is False:
            raise error  # Extend says trying again will not help
        if not isinstance(error, ExtendServerError | ExtendResponseError) and (
            error.retryable is not True
        ):
            raise error
        return error, None

    def _parse(
        self, response: requests.Response, action: str, creates_runs: bool
    ) -> dict[str, Any] | ExtendError:
        request_id = response.headers.get("x-request-id") or response.headers.get(
            "x-extend-request-id"
        )
        text = redact_text(response.text, [self._api_key])
        if response.status_code >= 400:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
            return error_for_status(
                response.status_code,
                text,
                action=action,
                request_id=request_id,
                retry_after=retry_after,
            )
        try:
            body = response.json()
        except ValueError:
            return ExtendResponseError(
                f"{action} answered HTTP {response.status_code} with a body that is not JSON "
                f"({len(response.content)} bytes)",
                status=response.status_code,
                request_id=request_id,
            )
        if not isinstance(body, dict) or body.get("success") is False:
            return ExtendResponseError(
                f"{action} answered HTTP {response.status_code} without success: "
                f"{redact_text(str(body)[:200], [self._api_key])}",
                status=response.status_code,
                request_id=request_id,
            )
        return body

    @staticmethod
    def _unknown(action: str, why: str) -> ExtendOutcomeUnknownError:
        return ExtendOutcomeUnknownError(
            f"{action}: {why} after the request was sent; Extend may have created the runs"
        )
