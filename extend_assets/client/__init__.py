"""A client for Extend's workflow-run API (version 2025-04-21). No Dagster in here."""

from extend_assets.client.client import API_VERSION, DEFAULT_BASE_URL, ExtendClient
from extend_assets.client.constants import (
    REVIEW_POLICIES,
    SUBMISSION_METADATA_KEY,
    USAGE_TAGS_KEY,
    ReviewPolicy,
)
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
from extend_assets.client.validation import (
    MAX_BATCH_INPUTS,
    MAX_METADATA_BYTES,
    MAX_PAGE_SIZE,
    MAX_RUN_FILES,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "MAX_BATCH_INPUTS",
    "MAX_METADATA_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_RUN_FILES",
    "REVIEW_POLICIES",
    "SUBMISSION_METADATA_KEY",
    "TERMINAL_STATUSES",
    "USAGE_TAGS_KEY",
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
    "ReviewPolicy",
    "WaitTimeoutError",
    "WorkflowRun",
    "WorkflowRunPage",
    "WorkflowRunStatus",
    "WorkflowRunSummary",
    "redact_text",
    "redact_url",
]
