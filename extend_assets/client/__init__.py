"""A client for Extend's workflow-run API (version 2025-04-21). No Dagster in here."""

from extend_assets.client.client import API_VERSION, DEFAULT_BASE_URL, ExtendClient
from extend_assets.client.errors import (
    ExtendBadRequestError,
    ExtendConnectionError,
    ExtendError,
    ExtendForbiddenError,
    ExtendNotFoundError,
    ExtendOutcomeUnknownError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    ExtendUnauthorizedError,
    WaitTimeoutError,
)
from extend_assets.client.models import (
    TERMINAL_STATUSES,
    File,
    ProcessorRun,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowRunStatus,
    WorkflowRunSummary,
)
from extend_assets.client.ratelimit import RateLimiter
from extend_assets.client.redact import redact_text, redact_url

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "TERMINAL_STATUSES",
    "ExtendBadRequestError",
    "ExtendClient",
    "ExtendConnectionError",
    "ExtendError",
    "ExtendForbiddenError",
    "ExtendNotFoundError",
    "ExtendOutcomeUnknownError",
    "ExtendRateLimitedError",
    "ExtendResponseError",
    "ExtendServerError",
    "ExtendTimeoutError",
    "ExtendUnauthorizedError",
    "File",
    "ProcessorRun",
    "RateLimiter",
    "WaitTimeoutError",
    "WorkflowRun",
    "WorkflowRunPage",
    "WorkflowRunStatus",
    "WorkflowRunSummary",
    "redact_text",
    "redact_url",
]
