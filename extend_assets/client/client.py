"""``ExtendClient``: the workflow-run API over one pooled session, in either version.

``api_version`` ("2025-04-21", the default, or "2026-02-09") picks the request builders
and response readers of :mod:`extend_assets.client.wire`; every method returns the same
typed models (:mod:`extend_assets.client.models`) whichever version is spoken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests

from extend_assets.client.errors import (
    ExtendError,
    ExtendPartialSubmissionError,
    ExtendResponseError,
)
from extend_assets.client.models import WorkflowRun, WorkflowRunPage, WorkflowRunSummary
from extend_assets.client.transport import Transport
from extend_assets.client.validation import (
    MAX_BATCH_INPUTS,
    MAX_RUN_FILES,
    SORT_BY,
    SORT_DIR,
    check_choice,
    check_page_size,
    check_priority,
    clean_metadata,
    require_id,
)
from extend_assets.client.waiting import Waiting
from extend_assets.client.wire import DEFAULT_API_VERSION, wire_for
from extend_assets.client.wire.inputs import (
    FileInput,
    batch_input,
    file_input,
    secrets_input,
    text_input,
)

DEFAULT_BASE_URL = "https://api.extend.ai"
API_VERSION = DEFAULT_API_VERSION


class ExtendClient(Waiting):
    """A client for Extend's workflow runs. Thread-safe; use one per process or step.

    ``requests_per_second`` is the account's limit: the client starts there and slows
    down on 429s (adaptive, like the AWS SDKs' adaptive retry mode), so many clients on
    one account converge to it. ``rate_share`` (0..1] caps this client at a share of it
    (the sensor's). ``rate_limit_store`` makes every client with the same account share
    one request schedule at the account's rate: a ``postgresql://`` URL (every machine
    that reaches the database) or a local directory (every process of this machine);
    ``rate_limit_dir`` is the older spelling of a directory.

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
        rate_limit_dir: str | None = None,
        rate_share: float = 1.0,
        rate_limit_store: str | None = None,
    ) -> None:
        if not api_key:
            raise ValueError(
                "ExtendClient needs an api_key: set EXTEND_API_KEY (or pass api_key=...)."
            )
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self._wire = wire_for(api_version)  # refuses unknown versions, naming the known
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self.workspace_id = workspace_id
        self._sleep = sleep
        self._clock = clock
        self._transport = Transport(
            api_key,
            self.base_url,
            api_version,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_time=max_retry_time,
            requests_per_second=requests_per_second,
            workspace_id=workspace_id,
            sleep=sleep,
            clock=clock,
            session=session,
            pool_size=pool_size,
            rate_limit_store=rate_limit_store or rate_limit_dir,
            rate_share=rate_share,
        )
        self._request = self._transport.request

    def __repr__(self) -> str:
        return (
            f"ExtendClient(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            "api_key=<hidden>)"
        )

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        self._transport.close()

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
    def supports_batch_priority(self) -> bool:
        """True when ``batch_run_workflow(priority=...)`` is allowed (2026-02-09): callers
        that need a priority can then send ceil(N/1000) batches instead of N runs."""
        return bool(self._wire.build.BATCH_PRIORITY)

    @property
    def send_rate(self) -> float | None:
        """Requests per second the client allows itself now (None: unlimited)."""
        limiter = self._transport.limiter
        return None if limiter is None else limiter.rate()

    @property
    def request_count(self) -> int:
        """HTTP requests actually sent by this client, retries included."""
        return self._transport.request_count

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

        2025-04-21 sends them in one request. 2026-02-09 takes ONE file per request: each
        input is its own POST, in order; a failure after runs were created raises
        :class:`ExtendPartialSubmissionError` (an ExtendOutcomeUnknownError) with the runs
        created so far. Several files as ONE run (2026): :meth:`run_package`.
        """
        require_id("workflow_id", workflow_id)
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
        require_id("workflow_id", workflow_id)
        check_priority(priority)
        inputs = [file_input(item, f"package.files[{i}]") for i, item in enumerate(files)]
        cleaned = clean_metadata(metadata, "run_package")
        body = self._wire.build.package_body(
            workflow_id, version, inputs, priority, cleaned, secrets_input(secrets)
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
            workflow_id, version, inputs, priority, cleaned, secrets_input(secrets)
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
        require_id("workflow_id", workflow_id)
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
        require_id("workflow_run_id", workflow_run_id)
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
        require_id("workflow_run_id", workflow_run_id)
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
        require_id("workflow_run_id", workflow_run_id)
        data = self._request("POST", f"/workflow_runs/{quote(workflow_run_id, safe='')}/cancel")
        return self._run_of(data, "POST /workflow_runs/{id}/cancel")

    def delete_workflow_run(self, workflow_run_id: str) -> str:
        """Deletes the run and its data for good; returns the deleted run's id."""
        require_id("workflow_run_id", workflow_run_id)
        data = self._request("DELETE", f"/workflow_runs/{quote(workflow_run_id, safe='')}")
        deleted: str = self._wire.read.deleted_id(data, workflow_run_id)
        return deleted

    def _run_of(self, data: Mapping[str, Any], action: str) -> WorkflowRun:
        run: WorkflowRun = self._wire.read.one_run(data, action)
        return run


def _workflow_subject(workflow_id: str, version: str | None) -> str:
    return f"workflow {workflow_id}" + (f" version {version}" if version else "")
