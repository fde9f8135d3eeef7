"""``ExtendClient``: the workflow-run API over one pooled session, in either version.

``api_version`` ("2025-04-21", the default, or "2026-02-09") picks the request builders
and response readers of :mod:`extend_assets.client.wire`; every method returns the same
typed models (:mod:`extend_assets.client.models`) whichever version is spoken.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from extend_assets.client.errors import (
    ExtendConnectionError,
    ExtendError,
    ExtendOutcomeUnknownError,
    ExtendPartialSubmissionError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    WaitTimeoutError,
    error_for_status,
)
from extend_assets.client.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowRunSummary,
)
from extend_assets.client.polling import PollingSchedule, poll_until
from extend_assets.client.ratelimit import RateLimiter
from extend_assets.client.redact import redact_text
from extend_assets.client.retry import RetryPolicy, parse_retry_after
from extend_assets.client.validation import (
    MAX_BATCH_INPUTS,
    MAX_RUN_FILES,
    SORT_BY,
    SORT_DIR,
    check_choice,
    check_page_size,
    check_priority,
    clean_metadata,
)
from extend_assets.client.wire import DEFAULT_API_VERSION, wire_for
from extend_assets.client.wire.inputs import FileInput, batch_input, file_input, text_input

DEFAULT_BASE_URL = "https://api.extend.ai"
API_VERSION = DEFAULT_API_VERSION
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


class ExtendClient:
    """A client for Extend's workflow runs. Thread-safe; use one per process or step.

    ``sleep`` and ``clock`` are injectable so retries and waits can be tested without
    waiting; ``session`` lets a caller bring its own (proxies, TLS settings).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = API_VERSION,
        timeout: float = 60.0,
        max_retries: int = 5,
        requests_per_second: float | None = 10,
        workspace_id: str | None = None,
        *,
        max_retry_time: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        pool_size: int = 32,
    ) -> None:
        if not api_key:
            raise ValueError(
                "ExtendClient needs an api_key: set EXTEND_API_KEY (or pass api_key=...)."
            )
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self._wire = wire_for(api_version)  # refuses unknown versions, naming the known
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self.workspace_id = workspace_id
        self._sleep = sleep
        self._clock = clock
        self._retry = RetryPolicy(max_retries=max_retries, max_retry_time=max_retry_time)
        self._limiter = (
            RateLimiter(requests_per_second, clock=clock, sleep=sleep)
            if requests_per_second
            else None
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

    def __repr__(self) -> str:
        return (
            f"ExtendClient(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            "api_key=<hidden>)"
        )

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> ExtendClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def request_count(self) -> int:
        """HTTP requests actually sent by this client, retries included."""
        with self._count_lock:
            return self._request_count

    # -- runs -------------------------------------------------------------------

    def run_workflow(
        self,
        workflow_id: str,
        files: Sequence[Mapping[str, Any]] | None = None,
        raw_texts: Sequence[str] | None = None,
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        secrets: Mapping[str, Any] | None = None,
    ) -> list[WorkflowRun]:
        """``POST /workflow_runs``: one run per file or raw text (at most 50).

        2025-04-21 sends them in one request. 2026-02-09 takes ONE file per request, so
        each input is its own POST, in order; if one fails after others created runs,
        :class:`ExtendPartialSubmissionError` (an :class:`ExtendOutcomeUnknownError`)
        carries the runs created so far: reconcile before sending again. To run several
        files as ONE run (2026), use :meth:`run_package`. ``secrets`` need 2026.
        """
        _require_id("workflow_id", workflow_id)
        if (files is None) == (raw_texts is None):
            raise ValueError("run_workflow: give exactly one of files or raw_texts")
        items: Sequence[Any] = files if files is not None else raw_texts or []
        if isinstance(items, str | bytes | Mapping) or not 1 <= len(items) <= MAX_RUN_FILES:
            count = len(items) if not isinstance(items, str | bytes | Mapping) else "not a list of"
            raise ValueError(
                f"run_workflow: {count} inputs; send 1 to {MAX_RUN_FILES} per call "
                "(use batch_run_workflow for more)"
            )
        inputs = [
            file_input(item, f"files[{i}]")
            if files is not None
            else text_input(item, f"raw_texts[{i}]")
            for i, item in enumerate(items)
        ]
        return self._create(workflow_id, inputs, version, priority, metadata, secrets)

    def run_package(
        self,
        workflow_id: str,
        files: Sequence[Mapping[str, Any]],
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        secrets: Mapping[str, Any] | None = None,
    ) -> WorkflowRun:
        """``POST /workflow_runs`` with a ``package``: 2 to 50 files (URLs or file ids,
        no duplicates) processed together as ONE run with one merged result (2026 only)."""
        _require_id("workflow_id", workflow_id)
        check_priority(priority)
        inputs = [file_input(item, f"package.files[{i}]") for i, item in enumerate(files)]
        cleaned = clean_metadata(metadata, "run_package")
        body = self._wire.build.package_body(
            workflow_id, version, inputs, priority, cleaned, _secrets(secrets)
        )
        (run,) = self._post_runs(body, workflow_id, version)
        return run

    def _create(
        self,
        workflow_id: str,
        inputs: Sequence[FileInput],
        version: str | None,
        priority: int | None,
        metadata: Mapping[str, Any] | None,
        secrets: Mapping[str, Any] | None,
    ) -> list[WorkflowRun]:
        check_priority(priority)
        cleaned = clean_metadata(metadata, "run_workflow")
        bodies = self._wire.build.create_bodies(
            workflow_id, version, inputs, priority, cleaned, _secrets(secrets)
        )
        created: list[WorkflowRun] = []
        for number, body in enumerate(bodies):
            try:
                created += self._post_runs(body, workflow_id, version)
            except ExtendError as error:
                if not created:
                    raise
                raise ExtendPartialSubmissionError(
                    f"POST /workflow_runs: input {number + 1} of {len(bodies)} failed after "
                    f"{len(created)} run(s) were created ({error.message}); reconcile before "
                    "sending the rest again",
                    created_runs=created,
                    status=error.status,
                    code=error.code,
                    request_id=error.request_id,
                ) from None
        return created

    def _post_runs(
        self, body: dict[str, Any], workflow_id: str, version: str | None
    ) -> list[WorkflowRun]:
        data = self._request(
            "POST",
            "/workflow_runs",
            json_body=body,
            creates_runs=True,
            subject=_workflow_subject(workflow_id, version),
        )
        runs: list[WorkflowRun] = self._wire.read.created_runs(data)
        return runs

    def batch_run_workflow(
        self,
        workflow_id: str,
        inputs: Sequence[Mapping[str, Any]],
        version: str | None = None,
        priority: int | None = None,
    ) -> str:
        """``POST /workflow_runs/batch``: 1 to 1000 inputs; returns the batch id.

        Each input is ``{"file": {...}}`` or ``{"rawText": "..."}`` with optional
        ``metadata`` / ``secrets``, in both versions. ``priority`` (1-100) needs
        2026-02-09 (2025 batches always run at 90).
        """
        _require_id("workflow_id", workflow_id)
        if isinstance(inputs, str | bytes | Mapping) or not 1 <= len(inputs) <= MAX_BATCH_INPUTS:
            count = len(inputs) if not isinstance(inputs, str | bytes | Mapping) else "no"
            raise ValueError(
                f"batch_run_workflow: {count} inputs; send 1 to {MAX_BATCH_INPUTS} per "
                "batch (batch_run_workflow_all splits any number)"
            )
        check_priority(priority)
        checked = [batch_input(item, i) for i, item in enumerate(inputs)]
        body = self._wire.build.batch_body(workflow_id, version, checked, priority)
        data = self._request(
            "POST",
            "/workflow_runs/batch",
            json_body=body,
            creates_runs=True,
            subject=_workflow_subject(workflow_id, version),
        )
        batch_id: str = self._wire.read.batch_id(data)
        return batch_id

    def batch_run_workflow_all(
        self,
        workflow_id: str,
        inputs: Sequence[Mapping[str, Any]],
        version: str | None = None,
        priority: int | None = None,
    ) -> list[str]:
        """Any number of inputs as ceil(N / 1000) batches; the batch ids in order."""
        return [
            self.batch_run_workflow(
                workflow_id, inputs[start : start + MAX_BATCH_INPUTS], version, priority
            )
            for start in range(0, len(inputs), MAX_BATCH_INPUTS)
        ]

    def list_workflow_runs_page(
        self,
        status: str | None = None,
        workflow_id: str | None = None,
        batch_id: str | None = None,
        file_name_contains: str | None = None,
        sort_by: str | None = None,
        sort_dir: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> WorkflowRunPage:
        """One page of ``GET /workflow_runs``, for callers that keep their own cursor."""
        check_page_size(page_size)
        check_choice("sort_by", sort_by, SORT_BY)
        check_choice("sort_dir", sort_dir, SORT_DIR)
        params = {
            "status": status,
            "workflowId": workflow_id,
            "batchId": batch_id,
            "fileNameContains": file_name_contains,
            "sortBy": sort_by,
            "sortDir": sort_dir,
            "maxPageSize": page_size,
            "nextPageToken": page_token,
        }
        data = self._request(
            "GET", "/workflow_runs", params={k: v for k, v in params.items() if v is not None}
        )
        page: WorkflowRunPage = self._wire.read.page(data)
        return page

    def list_workflow_runs(
        self,
        status: str | None = None,
        workflow_id: str | None = None,
        batch_id: str | None = None,
        file_name_contains: str | None = None,
        sort_by: str | None = None,
        sort_dir: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[WorkflowRunSummary]:
        """Every matching run summary, fetching the next page only when needed."""
        check_page_size(page_size)
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = self.list_workflow_runs_page(
                status,
                workflow_id,
                batch_id,
                file_name_contains,
                sort_by,
                sort_dir,
                page_size,
                token,
            )
            yield from page.runs
            token = page.next_page_token
            if not token:
                return
            if token in seen_tokens:
                raise ExtendResponseError("GET /workflow_runs returned the same page token twice.")
            seen_tokens.add(token)

    def get_workflow_run(self, workflow_run_id: str) -> WorkflowRun:
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("GET", f"/workflow_runs/{quote(workflow_run_id, safe='')}")
        return self._run_of(data, "GET /workflow_runs/{id}")

    def update_workflow_run(
        self,
        workflow_run_id: str,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WorkflowRun:
        """Sets the name and merges ``metadata`` into the run's (incoming keys win).
        (2026 runs carry no name, so a new name is not visible in the answer.)"""
        _require_id("workflow_run_id", workflow_run_id)
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        cleaned = clean_metadata(metadata, "update_workflow_run")
        if cleaned is not None:
            body["metadata"] = cleaned
        data = self._request(
            "POST", f"/workflow_runs/{quote(workflow_run_id, safe='')}", json_body=body
        )
        return self._run_of(data, "POST /workflow_runs/{id}")

    def cancel_workflow_run(self, workflow_run_id: str) -> WorkflowRun:
        """Only PENDING or PROCESSING runs can be cancelled (else a bad-request error)."""
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("POST", f"/workflow_runs/{quote(workflow_run_id, safe='')}/cancel")
        return self._run_of(data, "POST /workflow_runs/{id}/cancel")

    def delete_workflow_run(self, workflow_run_id: str) -> str:
        """Deletes the run and its data for good; returns the deleted run's id."""
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("DELETE", f"/workflow_runs/{quote(workflow_run_id, safe='')}")
        deleted: str = self._wire.read.deleted_id(data, workflow_run_id)
        return deleted

    def _run_of(self, data: Mapping[str, Any], action: str) -> WorkflowRun:
        run: WorkflowRun = self._wire.read.one_run(data, action)
        return run

    def wait_for_run(
        self, workflow_run_id: str, timeout: float = 300.0, poll_interval: float = 2.0
    ) -> WorkflowRun:
        """Polls until the run is PROCESSED, FAILED, CANCELLED, NEEDS_REVIEW or REJECTED."""
        deadline = self._clock() + timeout
        while True:
            run = self.get_workflow_run(workflow_run_id)
            if run.status in TERMINAL_STATUSES:
                return run
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"workflow run {workflow_run_id} is still {run.status} after {timeout:.0f} s"
                )
            self._sleep(min(poll_interval, remaining))

    def create_and_poll(
        self,
        workflow_id: str,
        file: Mapping[str, Any] | None = None,
        *,
        raw_text: str | None = None,
        package: Sequence[Mapping[str, Any]] | None = None,
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        max_wait: float | None = None,
        schedule: PollingSchedule | None = None,
    ) -> WorkflowRun:
        """Run ONE document (a ``file``, a ``raw_text`` or, on 2026, a ``package``) and
        poll it as the official SDK 1.20 ``create_and_poll`` does: a GET at once, then
        every 1 s for 30 s, then x1.15 up to 30 s, with jitter (:class:`PollingSchedule`).

        The wait ends at any status but PENDING, PROCESSING or CANCELLING (so also at
        NEEDS_REVIEW and REJECTED). ``max_wait`` seconds (None: no limit, as in the
        SDK) bound it with :class:`WaitTimeoutError`; the run keeps going on Extend.
        """
        if sum(x is not None for x in (file, raw_text, package)) != 1:
            raise ValueError("create_and_poll: give exactly one of file, raw_text or package")
        if package is not None:
            run = self.run_package(
                workflow_id, package, version, priority, metadata, secrets=secrets
            )
        else:
            source = (
                file_input(file, "file") if file is not None else text_input(raw_text, "raw_text")
            )
            (run,) = self._create(workflow_id, [source], version, priority, metadata, secrets)
        return self.poll_run(run.id, max_wait=max_wait, schedule=schedule)

    run_and_wait = create_and_poll

    def poll_run(
        self,
        workflow_run_id: str,
        *,
        max_wait: float | None = None,
        schedule: PollingSchedule | None = None,
    ) -> WorkflowRun:
        """GET the run until it leaves PENDING/PROCESSING/CANCELLING (SDK 1.20 schedule)."""
        return poll_until(
            lambda: self.get_workflow_run(workflow_run_id),
            lambda run: run.status not in OPEN_STATUSES,
            schedule=schedule or PollingSchedule(),
            clock=self._clock,
            sleep=self._sleep,
            max_wait=max_wait,
            describe=lambda run: f"workflow run {workflow_run_id} is still {run.status}",
        )

    # -- transport ----------------------------------------------------------------

    def _request(
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
            if self._limiter is not None:
                self._limiter.acquire()
            with self._count_lock:
                self._request_count += 1
            logger.debug("%s %s params=%s", method, path, redact_text(str(params or {})))
            error: ExtendError
            retry_after: float | None = None
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self.timeout
                )
            except requests.Timeout as exc:
                sent = not isinstance(exc, requests.ConnectTimeout)
                error = ExtendTimeoutError(f"{action}: no answer within {self.timeout:.0f} s")
                if creates_runs and sent:
                    raise self._unknown(action, "the answer timed out") from None
            except requests.ConnectionError as exc:
                if creates_runs and not _not_sent(exc):
                    raise self._unknown(action, "the connection broke") from None
                error = ExtendConnectionError(
                    f"{action}: could not connect to {self.base_url} ({type(exc).__name__})"
                )
            else:
                parsed = self._parse(response, action, creates_runs)
                if isinstance(parsed, dict):
                    return parsed
                error = parsed
                if isinstance(error, ExtendRateLimitedError):
                    retry_after = error.retry_after
                elif creates_runs:
                    if isinstance(error, ExtendServerError | ExtendResponseError):
                        raise self._unknown(action, f"Extend answered HTTP {response.status_code}")
                    raise error  # a 4xx: nothing was created, and a POST is never resent
                elif error.retryable is False:
                    raise error  # Extend says trying again will not help
                elif not isinstance(error, ExtendServerError | ExtendResponseError) and (
                    error.retryable is not True
                ):
                    raise error
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


def _require_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _workflow_subject(workflow_id: str, version: str | None) -> str:
    return f"workflow {workflow_id}" + (f" version {version}" if version else "")


def _secrets(secrets: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if secrets is None:
        return None
    if not isinstance(secrets, Mapping):
        raise ValueError("secrets must be a dict")
    return dict(secrets)
