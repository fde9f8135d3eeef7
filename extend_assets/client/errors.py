"""One error hierarchy for everything the Extend API (or the road to it) can answer.

Every error carries the HTTP status, Extend's own message, its code, request id,
``retryable`` flag and doc URL when present, and a hint saying what to do. Both error
bodies map to the same classes: 2025 ``{success: false, error: "..."}`` and 2026
``{code, message, retryable, requestId, docUrl}`` (flat or under ``error``). None of
them ever holds the API key or a presigned URL's query string: messages are built
from redacted parts only.

    ExtendError
    ├── ExtendBadRequestError            400, 409
    │   └── ExtendUnprocessableError     422
    ├── ExtendUnauthorizedError          401
    ├── ExtendPaymentRequiredError       402 (USAGE_BLOCKED)
    ├── ExtendForbiddenError             403
    ├── ExtendNotFoundError              404
    ├── ExtendRateLimitedError           429
    ├── ExtendServerError                5xx
    ├── ExtendConnectionError
    │   └── ExtendTimeoutError
    ├── ExtendOutcomeUnknownError        a run-creating request may have landed
    │   └── ExtendPartialSubmissionError  some of several run requests landed
    ├── ExtendResponseError              an unusable 2xx body
    └── WaitTimeoutError                 a wait ran past its maximum
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ExtendError(Exception):
    """Base class. ``str(error)`` is the message followed by the hint."""

    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
        doc_url: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retryable = retryable
        self.doc_url = doc_url
        self.hint = hint if hint is not None else self.default_hint
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        if self.doc_url:
            parts.append(f"See {self.doc_url}")
        return " ".join(parts)


class ExtendBadRequestError(ExtendError):
    default_hint = "Extend rejected the request as invalid; the message names the field."


class ExtendUnprocessableError(ExtendBadRequestError):
    default_hint = "Extend could not validate the request body; the message names the field."


class ExtendPaymentRequiredError(ExtendError):
    default_hint = (
        "Extend blocked usage for this organization (USAGE_BLOCKED): add credits or check "
        "billing in the Extend dashboard, then retry."
    )


class ExtendUnauthorizedError(ExtendError):
    default_hint = "Check EXTEND_API_KEY: it is missing, mistyped or revoked."


class ExtendForbiddenError(ExtendError):
    default_hint = (
        "The key may not act on this resource; an organization-scoped key needs "
        "workspace_id (x-extend-workspace-id)."
    )


class ExtendNotFoundError(ExtendError):
    default_hint = "Check the workflow id and version (or the run id) exist in this workspace."


class ExtendRateLimitedError(ExtendError):
    default_hint = (
        "Too many requests: lower requests_per_second or the concurrency of Extend steps."
    )

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ExtendServerError(ExtendError):
    default_hint = "Extend had an internal error; retrying later usually works."


class ExtendConnectionError(ExtendError):
    default_hint = "Could not reach Extend: check base_url, DNS, proxies and the network."


class ExtendTimeoutError(ExtendConnectionError):
    default_hint = "Extend did not answer in time: raise timeout or retry later."


class ExtendOutcomeUnknownError(ExtendError):
    """A request that creates runs may have reached Extend, but no answer came back.

    It was not retried, because a retry could create the runs twice. The caller
    should reconcile: list the runs created since, and look for its own metadata.
    """

    default_hint = (
        "Runs may or may not have been created; reconcile by listing recent runs "
        "before sending again (the assets do this on the next materialization)."
    )


class ExtendPartialSubmissionError(ExtendOutcomeUnknownError):
    """One of several run-creating requests failed after others created runs.

    ``created_runs`` holds the runs created before it; the rest may or may not exist.
    """

    def __init__(self, message: str, *, created_runs: Any = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.created_runs = list(created_runs)


class ExtendResponseError(ExtendError):
    """Extend (or something in front of it) answered with a body we cannot use."""

    default_hint = (
        "The answer was not the JSON the API promises (a proxy error page or a cut-off "
        "body?); retry, and report it with the request id if it persists."
    )


class WaitTimeoutError(ExtendError):
    default_hint = "Raise timeout, or check the run in the Extend dashboard."


STATUS_ERRORS: dict[int, type[ExtendError]] = {
    400: ExtendBadRequestError,
    401: ExtendUnauthorizedError,
    402: ExtendPaymentRequiredError,
    403: ExtendForbiddenError,
    404: ExtendNotFoundError,
    409: ExtendBadRequestError,
    422: ExtendUnprocessableError,
    429: ExtendRateLimitedError,
}


@dataclass(frozen=True)
class ErrorBody:
    message: str | None = None
    code: str | None = None
    request_id: str | None = None
    retryable: bool | None = None
    doc_url: str | None = None


def error_body(text: str) -> ErrorBody:
    """What an error body says, in either version's shape (or nothing)."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return ErrorBody()
    if not isinstance(body, Mapping):
        return ErrorBody()
    message = body.get("message") or body.get("error")
    nested = body.get("error")
    if isinstance(nested, Mapping):  # {"error": {"code": ..., "message": ...}}
        body = {**body, **nested}
        message = nested.get("message") or body.get("message")
    retryable = body.get("retryable")
    return ErrorBody(
        message=str(message) if message and not isinstance(message, Mapping) else None,
        code=_text(body.get("code")),
        request_id=_text(body.get("requestId") or body.get("request_id")),
        retryable=retryable if isinstance(retryable, bool) else None,
        doc_url=_text(body.get("docUrl")),
    )


def error_for_status(
    status: int,
    text: str,
    *,
    action: str,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> ExtendError:
    """The typed error for a non-2xx answer to ``action`` (e.g. "GET /workflow_runs/x")."""
    body = error_body(text)
    detail = body.message or _short(text) or "no error message"
    code = f" [{body.code}]" if body.code else ""
    full = f"{action} failed with HTTP {status}{code}: {detail}"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": body.code,
        "request_id": body.request_id or request_id,
        "retryable": body.retryable,
        "doc_url": body.doc_url,
    }
    if status == 429:
        return ExtendRateLimitedError(full, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ExtendServerError(full, **kwargs)
    return STATUS_ERRORS.get(status, ExtendError)(full, **kwargs)


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _short(text: str, limit: int = 200) -> str:
    """A one-line excerpt of a non-JSON body (an HTML error page, say)."""
    flat = " ".join(text.split())
    if flat.startswith("<"):
        return f"a non-JSON answer ({flat[:80]}...)" if len(flat) > 80 else flat
    return flat[:limit]
