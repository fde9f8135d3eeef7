"""The HTTP wire: routing, auth, the version header, validation, envelopes, faults.

All rules about what a run *is* live in :mod:`state`; this module only turns HTTP
into calls on it and its answers into the API's JSON.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from extend_assets.emulator import requests_2025, requests_2026
from extend_assets.emulator.checks import body_of, check_metadata
from extend_assets.emulator.engine import Engine
from extend_assets.emulator.envelopes import ENVELOPES, Envelopes2025, json_response
from extend_assets.emulator.faults import FaultPlan, Faults
from extend_assets.emulator.state import STATUSES, ApiError, Backend
from extend_assets.emulator.versions import API_2026, DEFAULT_ERROR_VERSION, VERSIONS
from extend_assets.emulator.webhook_payloads import PayloadStore
from extend_assets.emulator.wire import nanoid, new_id

URLS = Map(
    [
        Rule("/workflow_runs", endpoint="runs", methods=["GET", "POST"]),
        Rule("/workflow_runs/batch", endpoint="batch", methods=["POST"]),
        Rule("/workflow_runs/<run_id>", endpoint="run", methods=["GET", "POST", "DELETE"]),
        Rule("/workflow_runs/<run_id>/cancel", endpoint="cancel", methods=["POST"]),
        Rule("/workflow_runs/<run_id>/outputs/<output_id>", endpoint="correct", methods=["POST"]),
        Rule("/_emulator/webhook_payloads/<token>", endpoint="c_payload", methods=["GET"]),
        Rule("/_emulator/counters", endpoint="c_counters", methods=["GET"]),
        Rule("/_emulator/reset", endpoint="c_reset", methods=["POST"]),
        Rule("/_emulator/faults", endpoint="c_faults", methods=["POST"]),
        Rule("/_emulator/throughput", endpoint="c_throughput", methods=["POST"]),
        Rule("/_emulator/runs/<run_id>/approve", endpoint="c_approve", methods=["POST"]),
        Rule("/_emulator/runs/<run_id>/reject", endpoint="c_reject", methods=["POST"]),
        Rule("/_emulator/submissions", endpoint="c_submissions", methods=["GET"]),
        Rule("/_emulator/idle", endpoint="c_idle", methods=["GET"]),
    ],
    strict_slashes=False,
)
TEMPLATES = {
    ("GET", "runs"): "GET /workflow_runs",
    ("POST", "runs"): "POST /workflow_runs",
    ("POST", "batch"): "POST /workflow_runs/batch",
    ("GET", "run"): "GET /workflow_runs/{id}",
    ("POST", "run"): "POST /workflow_runs/{id}",
    ("DELETE", "run"): "DELETE /workflow_runs/{id}",
    ("POST", "cancel"): "POST /workflow_runs/{id}/cancel",
    ("POST", "correct"): "POST /workflow_runs/{id}/outputs/{outputId}",
}
REQUESTS = {"2025-04-21": requests_2025, API_2026: requests_2026}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def error(status: int, message: str) -> Response:
    """An error outside any version (routing, control endpoints): the default shape."""
    return ENVELOPES[DEFAULT_ERROR_VERSION].error(status, message)


class EmulatorApp:
    def __init__(
        self,
        backend: Backend,
        engine: Engine,
        api_keys: Sequence[str],
        faults: FaultPlan,
        payloads: PayloadStore | None = None,
    ) -> None:
        self.payloads = payloads or PayloadStore()
        self.backend = backend
        self.engine = engine
        self.api_keys = frozenset(api_keys)
        self.faults = faults
        self.counters: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def count(self, key: str) -> None:
        with self._count_lock:
            self.counters[key] += 1

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        if response is None:  # a dropped connection: nothing is sent
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return []
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response | None:
        adapter = URLS.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return error(405, f"{request.method} is not allowed on {request.path}.")
        except NotFound:
            return error(404, f"No route {request.method} {request.path}.")
        except HTTPException as exc:
            return error(exc.code or 400, exc.description or "bad request")
        if endpoint.startswith("c_"):
            return self.control(endpoint, request, **args)
        self.count(TEMPLATES.get((request.method, endpoint), f"{request.method} {endpoint}"))
        # Errors answer in the shape of the version asked for (the default one if none).
        version = request.headers.get("x-extend-api-version")
        envelopes = ENVELOPES.get(version or "", ENVELOPES[DEFAULT_ERROR_VERSION])
        request_id = "req_" + nanoid(20)
        verdict = self.faults.verdict()
        if self.faults.faults.slow_seconds:
            time.sleep(self.faults.faults.slow_seconds)
        if verdict.rate_limited:
            self.count("429")
            answer = envelopes.error(429, "Too many requests", request_id=request_id)
            answer.headers["Retry-After"] = "1"
            return answer
        if verdict.drop:
            self.count("dropped")
            return None
        if verdict.error_status:
            self.count("5xx")
            if self.faults.faults.html_errors:
                page = f"<html><body><h1>{verdict.error_status} Bad Gateway</h1></body></html>"
                return Response(page, status=verdict.error_status, mimetype="text/html")
            message = "Internal error (injected by the emulator)."
            return envelopes.error(verdict.error_status, message, request_id=request_id)
        try:
            self.check_headers(request)
            self.check_blocked(request, endpoint)
            return self.api(endpoint, request, envelopes, **args)
        except ApiError as exc:
            return envelopes.error(exc.status, exc.message, exc.code, request_id)

    def check_headers(self, request: Request) -> None:
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.api_keys:
            raise ApiError(
                401,
                "Unauthorized: the API key is missing or not valid; send it as a Bearer token in the Authorization header.",
            )
        version = request.headers.get("x-extend-api-version")
        if version not in VERSIONS:
            shown = "missing" if version is None else repr(version)
            raise ApiError(
                400,
                f"x-extend-api-version is {shown}; this server speaks {' and '.join(VERSIONS)}.",
            )

    def check_blocked(self, request: Request, endpoint: str) -> None:
        faults = self.faults.faults
        if faults.forbidden:
            raise ApiError(403, "This API key may not act on this workspace (injected).")
        if faults.usage_blocked and request.method == "POST" and endpoint in ("runs", "batch"):
            raise ApiError(402, "Usage is blocked for this organization: out of credits.")

    # -- the API ----------------------------------------------------------------------

    def api(
        self,
        endpoint: str,
        request: Request,
        envelopes: Envelopes2025,
        run_id: str | None = None,
        output_id: str | None = None,
    ) -> Response:
        is_2026 = envelopes.version == API_2026
        if endpoint == "runs" and request.method == "GET":
            return self.list_runs(request, envelopes)
        if endpoint in ("runs", "batch"):
            return self.create(endpoint, body_of(request), envelopes)
        assert run_id is not None
        if endpoint == "correct":
            if is_2026:
                raise ApiError(410, "This endpoint was removed in 2026-02-09.", "ENDPOINT_REMOVED")
            raise ApiError(400, "Correcting outputs is not emulated.")
        if endpoint == "cancel":
            return envelopes.one(self.backend.cancel(run_id))
        if request.method == "GET":
            return envelopes.one(self.backend.get(run_id))
        if request.method == "DELETE":
            self.backend.delete(run_id)
            return envelopes.deleted(run_id)
        body = body_of(request)
        status = 422 if is_2026 else 400
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(status, "name must be a string.")
        metadata = check_metadata(body.get("metadata"), "metadata", status)
        return envelopes.one(self.backend.update(run_id, name, metadata))

    def create(self, endpoint: str, body: dict[str, Any], envelopes: Envelopes2025) -> Response:
        rules = REQUESTS[envelopes.version]
        parse = rules.create if endpoint == "runs" else rules.batch
        workflow_id, version, inputs, priority = parse(body)
        delay = self.faults.faults.batch_create_delay_seconds
        if endpoint == "batch" and delay > 0:
            later = self.create_later(delay, workflow_id, version, inputs, priority)
            self.after_commit()
            return envelopes.batch(later)
        batch_id, runs = self.backend.create_runs(
            workflow_id, version, inputs, priority=priority, batch=endpoint == "batch"
        )
        self.queue(runs, priority)
        self.after_commit()
        if endpoint == "batch":
            assert batch_id is not None
            return envelopes.batch(batch_id)
        return envelopes.created(runs)

    def create_later(
        self,
        delay: float,
        workflow_id: str,
        version: str | None,
        inputs: list[dict[str, Any]],
        priority: int,
    ) -> str:
        """Answer with a batch id now; create (and queue) its runs after ``delay``."""
        self.backend.workflow(workflow_id, version)  # an unknown workflow is still a 404 now
        batch_id = new_id("batch_")

        def create() -> None:
            _, runs = self.backend.create_runs(
                workflow_id, version, inputs, priority=priority, batch=True, batch_id=batch_id
            )
            self.queue(runs, priority)

        timer = threading.Timer(delay, create)
        timer.daemon = True
        timer.start()
        return batch_id

    def queue(self, runs: list[dict[str, Any]], priority: int) -> None:
        for run in runs:
            seq = self.backend.pending_seq(run["id"])
            if seq is not None:
                self.engine.enqueue(priority, seq, run["id"])

    def after_commit(self) -> None:
        delay = self.faults.faults.slow_after_commit_seconds
        if delay:
            time.sleep(delay)

    def list_runs(self, request: Request, envelopes: Envelopes2025) -> Response:
        args = request.args
        status = args.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)} (got {status!r}).")
        sort_by = args.get("sortBy", "updatedAt")
        if sort_by not in ("updatedAt", "createdAt"):
            raise ApiError(400, f"sortBy must be updatedAt or createdAt (got {sort_by!r}).")
        sort_dir = args.get("sortDir", "desc")
        if sort_dir not in ("asc", "desc"):
            raise ApiError(400, f"sortDir must be asc or desc (got {sort_dir!r}).")
        raw_size = args.get("maxPageSize", "10")
        try:
            page_size = int(raw_size)
        except ValueError:
            raise ApiError(
                400, f"maxPageSize must be an integer from 1 to 1000 (got {raw_size!r})."
            ) from None
        if not 1 <= page_size <= 1000:
            raise ApiError(400, f"maxPageSize must be from 1 to 1000 (got {page_size}).")
        workflow_id = args.get("workflowId")
        if workflow_id is not None and workflow_id not in self.backend.workflows:
            raise ApiError(404, f"Workflow {workflow_id!r} not found (workflowId).")
        items, token = self.backend.list_runs(
            status=status,
            workflow_id=workflow_id,
            batch_id=args.get("batchId"),
            name_contains=args.get("fileNameContains"),
            sort_by=sort_by,
            sort_dir=sort_dir,
            page_size=page_size,
            token=args.get("nextPageToken"),
        )
        return envelopes.page(items, token)

    # -- control (loopback tooling, no auth) ----------------------------------------------

    def control(
        self,
        endpoint: str,
        request: Request,
        run_id: str | None = None,
        token: str | None = None,
    ) -> Response:
        body = body_of(request) if request.method == "POST" and request.data else {}
        try:
            if endpoint == "c_counters":
                with self._count_lock:
                    return json_response(200, dict(self.counters))
            if endpoint == "c_reset":
                with self._count_lock:
                    self.counters.clear()
                return json_response(200, {})
            if endpoint == "c_faults":
                self.faults.set(Faults(**body))
                return json_response(200, {})
            if endpoint == "c_throughput":
                self.engine.set_throughput(body.get("runs_per_minute"), body.get("latency"))
                return json_response(200, {})
            if endpoint == "c_approve":
                assert run_id is not None
                run = self.backend.review(
                    run_id,
                    approve=True,
                    reviewed_by=str(body.get("reviewed_by", "reviewer@example.com")),
                    edits=body.get("edits"),
                )
                return json_response(200, run)
            if endpoint == "c_reject":
                assert run_id is not None
                run = self.backend.review(
                    run_id,
                    approve=False,
                    reviewed_by=str(body.get("reviewed_by", "reviewer@example.com")),
                    note=body.get("reason"),
                )
                return json_response(200, run)
            if endpoint == "c_payload":
                assert token is not None
                payload = self.payloads.get(token)
                if payload is None:
                    return error(404, "This signed data URL is unknown or has expired.")
                return json_response(200, payload)
            if endpoint == "c_submissions":
                return json_response(200, self.backend.submissions())
            return json_response(
                200, {"idle": self.engine.idle() and self.backend.open_count() == 0}
            )
        except (ApiError, TypeError) as exc:
            return error(getattr(exc, "status", 400), str(exc))
