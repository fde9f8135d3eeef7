"""The event envelope Extend POSTs, in either API version (references §7.2 to §7.3).

``{"eventId", "eventType", "payload"}``. An endpoint is pinned to one API version,
which decides the payload's shape; the receiver is told that version and records it
on every landed event. Large payloads may come as a ``signed_data_url`` (the real
payload is behind a URL valid for 1 h): ``{"data": url}`` in 2025-04-21,
``{"object": "signed_data_url", "data", "id", "metadata"?}`` in 2026-02-09.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from extend_assets.client.redact import redact_credentials
from extend_assets.webhooks.errors import EventError

API_VERSIONS = ("2025-04-21", "2026-02-09")
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""Inline bodies up to 64 MiB: an endpoint on the JSON payload format sends each run
whole, with every step's output (a long document's extraction runs to several MiB);
64 MiB leaves an order of magnitude of room and still refuses abuse. Bodies above
1 MiB are spooled to disk and re-encoded as a stream, so memory does not follow it."""

# Terminal workflow-run events: the ones the receiver lands (payload: WorkflowRun).
RUN_EVENT_STATUS: dict[str, dict[str, str]] = {
    "2025-04-21": {
        "workflow_run.completed": "PROCESSED",
        "workflow_run.failed": "FAILED",
        "workflow_run.needs_review": "NEEDS_REVIEW",
        "workflow_run.rejected": "REJECTED",
    },
    "2026-02-09": {
        "workflow_run.completed": "PROCESSED",
        "workflow_run.failed": "FAILED",
        "workflow_run.needs_review": "NEEDS_REVIEW",
        "workflow_run.rejected": "REJECTED",
        "workflow_run.cancelled": "CANCELLED",
    },
}
# Known but not landed: step-run progress and every non-run event (acknowledged, counted).
OTHER_EVENT_TYPES: dict[str, frozenset[str]] = {
    "2025-04-21": frozenset(
        {
            "workflow_run.step_run.processed",
            "processor_run.processed",
            "processor_run.failed",
            "workflow.created",
            "workflow.deployed",
            "workflow.deleted",
            "processor.created",
            "processor.updated",
            "processor.deleted",
            "processor.draft.updated",
            "processor.version.published",
            "parser_run.processed",
            "parser_run.failed",
        }
    ),
    "2026-02-09": frozenset({"workflow_run.step_run.processed"}),  # and many more; see §7.3
}
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
SECRET_KEYS = frozenset({"presignedUrl", "fileUrl"})


def check_api_version(version: str) -> str:
    if version not in API_VERSIONS:
        raise ValueError(
            f"API version {version!r} is not supported; use one of {', '.join(API_VERSIONS)} "
            "(the version the Extend webhook endpoint is pinned to)"
        )
    return version


@dataclass(frozen=True)
class WebhookEvent:
    """One verified delivery. Its repr shows ids only (payloads may hold signed URLs).

    A large body keeps ``source`` (the spooled body): ``payload`` then holds only the
    payload's top-level scalars and the landing zone streams the rest from ``source``.
    """

    event_id: str
    event_type: str
    api_version: str
    payload: dict[str, Any] = field(repr=False)
    source: IO[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def is_run_event(self) -> bool:
        """A terminal workflow-run event of this version: the ones that get landed."""
        return self.event_type in RUN_EVENT_STATUS[self.api_version]

    @property
    def is_signed_data_url(self) -> bool:
        return is_signed_data_url(self.payload)

    @property
    def run_status(self) -> str | None:
        status = self.payload.get("status")
        if isinstance(status, str):
            return status
        return RUN_EVENT_STATUS[self.api_version].get(self.event_type)

    @property
    def run_id(self) -> str | None:
        value = self.payload.get("id")
        return value if isinstance(value, str) else None

    @property
    def batch_id(self) -> str | None:
        value = self.payload.get("batchId")
        return value if isinstance(value, str) else None

    def with_payload(self, payload: dict[str, Any]) -> WebhookEvent:
        return WebhookEvent(self.event_id, self.event_type, self.api_version, payload)


def parse_event(body: bytes, api_version: str) -> WebhookEvent:
    """The envelope in ``body`` (already verified), else EventError naming the problem."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..."
        raise EventError("malformed_json", "body is not JSON (or nested too deep)") from None
    if not isinstance(data, Mapping):
        raise EventError("bad_envelope", "body is not a JSON object")
    payload = data.get("payload")
    event_id, event_type = parse_event_fields(data)
    if not isinstance(payload, Mapping):
        raise EventError("bad_envelope", "payload is missing or not an object")
    return WebhookEvent(event_id, event_type, check_api_version(api_version), dict(payload))


def parse_event_fields(data: Mapping[str, Any]) -> tuple[str, str]:
    """``eventId`` and ``eventType`` of an envelope, else EventError naming the field."""
    event_id, event_type = data.get("eventId"), data.get("eventType")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise EventError("bad_envelope", "eventId is missing or not [A-Za-z0-9_-]{1,128}")
    if not isinstance(event_type, str) or not event_type:
        raise EventError("bad_envelope", "eventType is missing")
    return event_id, event_type


def is_signed_data_url(payload: Mapping[str, Any]) -> bool:
    """True for the URL delivery format of either version (the real payload is behind it)."""
    data = payload.get("data")
    if not isinstance(data, str) or not data.startswith(("https://", "http://")):
        return False
    if payload.get("object") == "signed_data_url":  # 2026-02-09
        return True
    return "object" not in payload and set(payload) <= {"data", "id", "metadata"}  # 2025-04-21


def scrub(value: Any) -> Any:
    """A copy without credentials, for the landing zone.

    Presigned/file URL fields are nulled; in every other string, at any depth (a
    ``failureMessage`` quoting a URL, a metadata note), the value of each credential
    query parameter becomes ``[redacted]`` (``client.redact.CREDENTIAL_PARAMS``); the rest of
    the text, and URLs without credentials, stay as they are.
    """
    if isinstance(value, Mapping):
        return {k: (None if k in SECRET_KEYS else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_credentials(value)
    return value
