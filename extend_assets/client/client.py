"""``ExtendClient``: the workflow-run API (version 2025-04-21) over one pooled session."""

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
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    WaitTimeoutError,
    error_for_status,
)
from extend_assets.client.models import (
    TERMINAL_STATUSES,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowRunSummary,
)
from extend_assets.client.ratelimit import RateLimiter
from extend_assets.client.redact import redact_text
from extend_assets.client.retry import RetryPolicy, parse_retry_after
from extend_assets.client.validation import (
    MAX_BATCH_INPUTS,
    MAX_RUN_FILES,
    SORT_BY,
    SORT_DIR,
    batch_input,
    check_choice,
    check_page_size,
    check_priority,
    clean_metadata,
    wire_file,
)

DEFAULT_BASE_URL = "https://api.extend.ai"
API_VERSION = "2025-04-21"
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
    ) -> list[WorkflowRun]:
        """``POST /workflow_runs``: one run per file or raw text (at most 50)."""
        _require_id("workflow_id", workflow_id)
        if (files is None) == (raw_texts is None):
            raise ValueError("run_workflow: give exactly one of files or raw_texts")
        items: Sequence[Any] = files if files is not None else raw_texts or []
        if not 1 <= len(items) <= MAX_RUN_FILES:
            raise ValueError(
                f"run_workflow: {len(items)} inputs; send 1 to {MAX_RUN_FILES} per call "
                "(use batch_run_workflow for more)"
            )
        check_priority(priority)
        body: dict[str, Any] = {"workflowId": workflow_id}
        if files is not None:
            body["files"] = [wire_file(f, f"files[{i}]") for i, f in enumerate(files)]
        else:
            body["rawTexts"] = [str(text) for text in items]
        if version is not None:
            body["version"] = str(version)
        if priority is not None:
            body["priority"] = priority
        cleaned = clean_metadata(metadata, "run_workflow")
        if cleaned is not None:
            body["metadata"] = cleaned
        data = self._request(
            "POST",
            "/workflow_runs",
            json_body=body,
            creates_runs=True,
            subject=_workflow_subject(workflow_id, version),
        )
        runs = data.get("workflowRuns")
        if not isinstance(runs, list):
            raise ExtendOutcomeUnknownError(
                "POST /workflow_runs answered without a workflowRuns list; runs may exist."
            )
        return [WorkflowRun.from_json(run) for run in runs if isinstance(run, Mapping)]

    def batch_run_workflow(
        self,
        workflow_id: str,
        inputs: Sequence[Mapping[str, Any]],
        version: str | None = None,
    ) -> str:
        """``POST /workflow_runs/batch``: 1 to 1000 inputs; returns the batch id."""
        _require_id("workflow_id", workflow_id)
        if not 1 <= len(inputs) <= MAX_BATCH_INPUTS:
            raise ValueError(
                f"batch_run_workflow: {len(inputs)} inputs; send 1 to {MAX_BATCH_INPUTS} per "
                "batch (batch_run_workflow_all splits any number)"
            )
        body: dict[str, Any] = {
            "workflowId": workflow_id,
            "inputs": [batch_input(item, i) for i, item in enumerate(inputs)],
        }
        if version is not None:
            body["version"] = str(version)
        data = self._request(
            "POST",
            "/workflow_runs/batch",
            json_body=body,
            creates_runs=True,
            subject=_workflow_subject(workflow_id, version),
        )
        batch_id = data.get("batchId")
        if not isinstance(batch_id, str) or not batch_id:
            raise ExtendOutcomeUnknownError(
                "POST /workflow_runs/batch answered without a batchId; the batch may exist."
            )
        return batch_id

    def batch_run_workflow_all(
        self,
        workflow_id: str,
        inputs: Sequence[Mapping[str, Any]],
        version: str | None = None,
    ) -> list[str]:
        """Any number of inputs as ceil(N / 1000) batches; the batch ids in order."""
        return [
            self.batch_run_workflow(workflow_id, inputs[start : start + MAX_BATCH_INPUTS], version)
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
        runs = data.get("workflowRuns")
        if not isinstance(runs, list):
            raise ExtendResponseError("GET /workflow_runs answered without a workflowRuns list.")
        token = data.get("nextPageToken")
        return WorkflowRunPage(
            runs=[WorkflowRunSummary.from_json(r) for r in runs if isinstance(r, Mapping)],
            next_page_token=str(token) if token else None,
        )

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
        """Every matching run summary exactly once, fetching the next page only when needed.

        Without a ``sort_by`` the listing is sorted by ``createdAt`` ascending, not the
        API's default ``updatedAt`` descending: a run that changes while the pages are
        read would move behind the page cursor under ``updatedAt`` and be missed. Runs
        are also deduplicated by id. Pass ``sort_by="updatedAt"`` only for a bounded
        scan of recent changes (the sensor's watermark), not for a full listing.
        """
        check_page_size(page_size)
        if sort_by is None:
            sort_by, sort_dir = "createdAt", sort_dir or "asc"
        token: str | None = None
        seen_tokens: set[str] = set()
        seen_ids: set[str] = set()
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
            for run in page.runs:
                if run.id not in seen_ids:
                    seen_ids.add(run.id)
                    yield run
            token = page.next_page_token
            if not token:
                return
            if token in seen_tokens:
                raise ExtendResponseError("GET /workflow_runs returned the same page token twice.")
            seen_tokens.add(token)

    def get_workflow_run(self, workflow_run_id: str) -> WorkflowRun:
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("GET", f"/workflow_runs/{quote(workflow_run_id, safe='')}")
        return _run_of(data, "GET /workflow_runs/{id}")

    def update_workflow_run(
        self,
        workflow_run_id: str,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WorkflowRun:
        """Sets the name and merges ``metadata`` into the run's (incoming keys win)."""
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
        return _run_of(data, "POST /workflow_runs/{id}")

    def cancel_workflow_run(self, workflow_run_id: str) -> WorkflowRun:
        """Only PENDING or PROCESSING runs can be cancelled (else a bad-request error)."""
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("POST", f"/workflow_runs/{quote(workflow_run_id, safe='')}/cancel")
        return _run_of(data, "POST /workflow_runs/{id}/cancel")

    def delete_workflow_run(self, workflow_run_id: str) -> str:
        """Deletes the run and its data for good; returns the deleted run's id."""
        _require_id("workflow_run_id", workflow_run_id)
        data = self._request("DELETE", f"/workflow_runs/{quote(workflow_run_id, safe='')}")
        return str(data.get("workflowRunId") or workflow_run_id)

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
        files: Sequence[Mapping[str, Any]] | None = None,
        raw_texts: Sequence[str] | None = None,
        version: str | None = None,
        priority: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
    ) -> list[WorkflowRun]:
        """``run_workflow`` then wait for every run; ``timeout`` covers them all."""
        started = self._clock()
        runs = self.run_workflow(workflow_id, files, raw_texts, version, priority, metadata)
        finished = []
        for run in runs:
            left = max(0.0, timeout - (self._clock() - started))
            finished.append(self.wait_for_run(run.id, timeout=left, poll_interval=poll_interval))
        return finished

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
                elif not isinstance(error, ExtendServerError | ExtendResponseError):
                    raise error
                elif creates_runs:
                    raise self._unknown(action, f"Extend answered HTTP {response.status_code}")
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


def _run_of(data: Mapping[str, Any], action: str) -> WorkflowRun:
    run = data.get("workflowRun")
    if not isinstance(run, Mapping) or not run.get("id"):
        raise ExtendResponseError(f"{action} answered without a workflowRun object.")
    return WorkflowRun.from_json(run)
