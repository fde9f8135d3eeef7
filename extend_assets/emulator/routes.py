"""The HTTP wire: routing, auth, the version header, validation, envelopes, faults.

All rules about what a run *is* live in :mod:`state`; this module only turns HTTP
into calls on it and its answers into the API's JSON.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from extend_assets.emulator.engine import Engine
from extend_assets.emulator.faults import FaultPlan, Faults
from extend_assets.emulator.state import STATUSES, ApiError, Backend

API_VERSION = "2025-04-21"
MAX_FILES = 50
MAX_INPUTS = 1000
MAX_METADATA_BYTES = 10 * 1024
RUN_PRIORITY_DEFAULT = 50
BATCH_PRIORITY = 90
_NOT_TAG = re.compile(r"[^A-Za-z0-9_-]")

URLS = Map(
    [
        Rule("/workflow_runs", endpoint="runs", methods=["GET", "POST"]),
        Rule("/workflow_runs/batch", endpoint="batch", methods=["POST"]),
        Rule("/workflow_runs/<run_id>", endpoint="run", methods=["GET", "POST", "DELETE"]),
        Rule("/workflow_runs/<run_id>/cancel", endpoint="cancel", methods=["POST"]),
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
}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def ok(payload: Mapping[str, Any]) -> Response:
    return json_response(200, {"success": True, **payload})


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def error(status: int, message: str) -> Response:
    return json_response(status, {"success": False, "error": message})


class EmulatorApp:
    def __init__(
        self,
        backend: Backend,
        engine: Engine,
        api_keys: Sequence[str],
        faults: FaultPlan,
    ) -> None:
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
        verdict = self.faults.verdict()
        if self.faults.faults.slow_seconds:
            time.sleep(self.faults.faults.slow_seconds)
        if verdict.rate_limited:
            self.count("429")
            return json_response(
                429, {"success": False, "error": "Too many requests"}, {"Retry-After": "1"}
            )
        if verdict.drop:
            self.count("dropped")
            return None
        if verdict.error_status:
            self.count("5xx")
            if self.faults.faults.html_errors:
                page = f"<html><body><h1>{verdict.error_status} Bad Gateway</h1></body></html>"
                return Response(page, status=verdict.error_status, mimetype="text/html")
            return error(verdict.error_status, "Internal error (injected by the emulator).")
        problem = self.check_headers(request)
        if problem is not None:
            return problem
        try:
            return self.api(endpoint, request, **args)
        except ApiError as exc:
            return error(exc.status, exc.message)

    def check_headers(self, request: Request) -> Response | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.api_keys:
            return error(
                401,
                "Unauthorized: the API key is missing or not valid; send it as a Bearer token in the Authorization header.",
            )
        version = request.headers.get("x-extend-api-version")
        if version != API_VERSION:
            shown = "missing" if version is None else repr(version)
            return error(
                400,
                f"x-extend-api-version is {shown}; this server speaks {API_VERSION}.",
            )
        return None

    # -- the API ----------------------------------------------------------------------

    def api(self, endpoint: str, request: Request, run_id: str | None = None) -> Response:
        if endpoint == "runs" and request.method == "GET":
            return self.list_runs(request)
        if endpoint == "runs":
            return self.create(body_of(request))
        if endpoint == "batch":
            return self.batch(body_of(request))
        assert run_id is not None
        if endpoint == "cancel":
            return ok({"workflowRun": self.backend.cancel(run_id)})
        if request.method == "GET":
            return ok({"workflowRun": self.backend.get(run_id)})
        if request.method == "DELETE":
            self.backend.delete(run_id)
            return ok(
                {
                    "workflowRunId": run_id,
                    "message": "Workflow run data has been successfully deleted.",
                }
            )
        body = body_of(request)
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "name must be a string.")
        metadata = check_metadata(body.get("metadata"), "metadata")
        return ok({"workflowRun": self.backend.update(run_id, name, metadata)})

    def create(self, body: dict[str, Any]) -> Response:
        workflow_id = require_workflow(body)
        files, texts = body.get("files"), body.get("rawTexts")
        if (files is None) == (texts is None):
            raise ApiError(400, "Provide exactly one of files or rawTexts.")
        items = files if files is not None else texts
        if not isinstance(items, list) or not items:
            raise ApiError(
                400, f"{'files' if files is not None else 'rawTexts'} must be a non-empty array."
            )
        if len(items) > MAX_FILES:
            raise ApiError(
                400,
                f"files: at most {MAX_FILES} per request (got {len(items)}); use /workflow_runs/batch.",
            )
        priority = body.get("priority", RUN_PRIORITY_DEFAULT)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
            raise ApiError(
                400, f"priority must be an integer between 1 and 100 inclusive (got {priority!r})."
            )
        metadata = check_metadata(body.get("metadata"), "metadata")
        inputs: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if files is not None:
                inputs.append({"file": check_file(item, f"files[{i}]"), "metadata": metadata})
            else:
                if not isinstance(item, str):
                    raise ApiError(400, f"rawTexts[{i}] must be a string.")
                inputs.append({"rawText": item, "metadata": metadata})
        version = check_version(body.get("version"))
        _, runs = self.backend.create_runs(
            workflow_id, version, inputs, priority=priority, batch=False
        )
        self.queue(runs, priority)
        self.after_commit()
        return ok({"workflowRuns": runs})

    def batch(self, body: dict[str, Any]) -> Response:
        workflow_id = require_workflow(body)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_INPUTS:
            count = len(inputs) if isinstance(inputs, list) else "no"
            raise ApiError(400, f"inputs must hold between 1 and {MAX_INPUTS} items (got {count}).")
        checked: list[dict[str, Any]] = []
        for i, item in enumerate(inputs):
            where = f"inputs[{i}]"
            if not isinstance(item, dict):
                raise ApiError(400, f"{where} must be an object with file or rawText.")
            has_file, has_text = item.get("file") is not None, item.get("rawText") is not None
            if has_file == has_text:
                raise ApiError(400, f"{where}: provide exactly one of file or rawText.")
            entry: dict[str, Any] = {
                "metadata": check_metadata(item.get("metadata"), f"{where}.metadata")
            }
            if has_file:
                entry["file"] = check_file(item["file"], f"{where}.file")
            elif not isinstance(item["rawText"], str):
                raise ApiError(400, f"{where}.rawText must be a string.")
            else:
                entry["rawText"] = item["rawText"]
            checked.append(entry)
        version = check_version(body.get("version"))
        batch_id, runs = self.backend.create_runs(
            workflow_id, version, checked, priority=BATCH_PRIORITY, batch=True
        )
        self.queue(runs, BATCH_PRIORITY)
        self.after_commit()
        return ok({"batchId": batch_id})

    def queue(self, runs: list[dict[str, Any]], priority: int) -> None:
        for run in runs:
            seq = self.backend.pending_seq(run["id"])
            if seq is not None:
                self.engine.enqueue(priority, seq, run["id"])

    def after_commit(self) -> None:
        delay = self.faults.faults.slow_after_commit_seconds
        if delay:
            time.sleep(delay)

    def list_runs(self, request: Request) -> Response:
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
        payload: dict[str, Any] = {"workflowRuns": items}
        if token:
            payload["nextPageToken"] = token
        return ok(payload)

    # -- control (loopback tooling, no auth) ----------------------------------------------

    def control(self, endpoint: str, request: Request, run_id: str | None = None) -> Response:
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
            if endpoint == "c_submissions":
                return json_response(200, self.backend.submissions())
            return json_response(
                200, {"idle": self.engine.idle() and self.backend.open_count() == 0}
            )
        except (ApiError, TypeError) as exc:
            return error(getattr(exc, "status", 400), str(exc))


def body_of(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def require_workflow(body: Mapping[str, Any]) -> str:
    workflow_id = body.get("workflowId")
    if not isinstance(workflow_id, str) or not workflow_id:
        raise ApiError(400, "workflowId is required.")
    return workflow_id


def check_version(version: Any) -> str | None:
    if version is not None and not isinstance(version, str):
        raise ApiError(400, 'version must be a string such as "3" or "draft".')
    return version


def check_file(file: Any, where: str) -> dict[str, Any]:
    if not isinstance(file, dict):
        raise ApiError(400, f"{where} must be an object.")
    if not file.get("fileUrl") and not file.get("fileId"):
        raise ApiError(400, f"{where}: provide fileUrl or fileId.")
    for key in ("fileUrl", "fileId", "fileName"):
        if file.get(key) is not None and not isinstance(file[key], str):
            raise ApiError(400, f"{where}.{key} must be a string.")
    return {k: file.get(k) for k in ("fileUrl", "fileId", "fileName") if file.get(k)}


def check_metadata(metadata: Any, where: str) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ApiError(400, f"{where} must be a JSON object.")
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ApiError(
            400, f"{where} is {size} bytes; the limit is {MAX_METADATA_BYTES} bytes (10 KB)."
        )
    tags = metadata.get("extend:usage_tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise ApiError(400, f"{where}['extend:usage_tags'] must be an array of strings.")
    if tags is not None:
        metadata = {**metadata, "extend:usage_tags": [_NOT_TAG.sub("", t) for t in tags]}
    return metadata
