"""The bodies each version answers with, around the run shapes of :mod:`wire` (2025)
and :mod:`wire_2026`: success envelopes and error bodies (reference-2026 §3.10, §3.11)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

from extend_assets.emulator import wire, wire_2026
from extend_assets.emulator.versions import API_2025, API_2026

#: HTTP status → (2026 error code, retryable).
CODES = {
    400: ("INVALID_REQUEST", False), 401: ("UNAUTHORIZED", False),
    402: ("USAGE_BLOCKED", False), 403: ("FORBIDDEN", False), 404: ("NOT_FOUND", False),
    405: ("INVALID_REQUEST", False), 410: ("ENDPOINT_REMOVED", False),
    422: ("INVALID_REQUEST", False), 429: ("RATE_LIMIT_EXCEEDED", True),
}  # fmt: skip
DOCS = "https://docs.extend.ai/2026-02-09/developers/api-reference/error-codes"


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


class Envelopes2025:
    version = API_2025

    def run(self, record: dict[str, Any]) -> dict[str, Any]:
        return wire.full_run(record)

    def ok(self, payload: Mapping[str, Any]) -> Response:
        return json_response(200, {"success": True, **payload})

    def created(self, records: list[dict[str, Any]]) -> Response:
        return self.ok({"workflowRuns": [self.run(r) for r in records]})

    def one(self, record: dict[str, Any]) -> Response:
        return self.ok({"workflowRun": self.run(record)})

    def page(self, records: list[dict[str, Any]], token: str | None) -> Response:
        payload: dict[str, Any] = {"workflowRuns": [wire.summary(r) for r in records]}
        if token:
            payload["nextPageToken"] = token
        return self.ok(payload)

    def batch(self, batch_id: str) -> Response:
        return self.ok({"batchId": batch_id})

    def deleted(self, run_id: str) -> Response:
        message = "Workflow run data has been successfully deleted."
        return self.ok({"workflowRunId": run_id, "message": message})

    def error(
        self, status: int, message: str, code: str | None = None, request_id: str = ""
    ) -> Response:
        headers = {"x-extend-request-id": request_id} if request_id else None
        return json_response(status, {"success": False, "error": message}, headers)


class Envelopes2026(Envelopes2025):
    version = API_2026

    def run(self, record: dict[str, Any]) -> dict[str, Any]:
        return wire_2026.full_run(record)

    def created(self, records: list[dict[str, Any]]) -> Response:
        (record,) = records
        return json_response(200, self.run(record))

    def one(self, record: dict[str, Any]) -> Response:
        return json_response(200, self.run(record))

    def page(self, records: list[dict[str, Any]], token: str | None) -> Response:
        data = [wire_2026.summary(r) for r in records]
        return json_response(200, {"object": "list", "data": data, "nextPageToken": token})

    def batch(self, batch_id: str) -> Response:
        return json_response(200, {"batchId": batch_id})

    def deleted(self, run_id: str) -> Response:
        return json_response(200, {"id": run_id})

    def error(
        self, status: int, message: str, code: str | None = None, request_id: str = ""
    ) -> Response:
        known, retryable = CODES.get(status, ("INTERNAL_ERROR", status >= 500))
        body = {
            "code": code or known,
            "message": message,
            "retryable": retryable,
            "requestId": request_id or None,
            "docUrl": DOCS,
        }
        headers = {"x-extend-request-id": request_id} if request_id else None
        return json_response(status, body, headers)


ENVELOPES: dict[str, Envelopes2025] = {API_2025: Envelopes2025(), API_2026: Envelopes2026()}
