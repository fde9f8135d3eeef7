"""A client for Extend's workflow-run API, versions 2025-04-21 and 2026-02-09 (one typed
model for both). No Dagster in here."""

from extend_assets.client.adaptive import AdaptiveRateLimiter
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
    ExtendPartialSubmissionError,
    ExtendPaymentRequiredError,
    ExtendRateLimitedError,
    ExtendResponseError,
    ExtendServerError,
    ExtendTimeoutError,
    ExtendUnauthorizedError,
    ExtendUnprocessableError,
    WaitTimeoutError,
)
from extend_assets.client.models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    File,
    ProcessorRun,
    StepRun,
    Usage,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowRunStatus,
    WorkflowRunSummary,
)
from extend_assets.client.polling import PollingSchedule
from extend_assets.client.redact import redact_text, redact_url
from extend_assets.client.validation import (
    MAX_BATCH_INPUTS,
    MAX_METADATA_BYTES,
    MAX_PAGE_SIZE,
    MAX_RUN_FILES,
)
from extend_assets.client.wire import (
    API_2025,
    API_2026,
    SUPPORTED_API_VERSIONS,
    UnsupportedApiVersionError,
)

__all__ = [
    "API_2025",
    "API_2026",
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "MAX_BATCH_INPUTS",
    "MAX_METADATA_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_RUN_FILES",
    "OPEN_STATUSES",
    "REVIEW_POLICIES",
    "SUBMISSION_METADATA_KEY",
    "SUPPORTED_API_VERSIONS",
    "TERMINAL_STATUSES",
    "USAGE_TAGS_KEY",
    "AdaptiveRateLimiter",
    "ExtendBadRequestError",
    "ExtendClient",
    "ExtendConnectionError",
    "ExtendError",
    "ExtendForbiddenError",
    "ExtendNotFoundError",
    "ExtendOutcomeUnknownError",
    "ExtendPartialSubmissionError",
    "ExtendPaymentRequiredError",
    "ExtendRateLimitedError",
    "ExtendResponseError",
    "ExtendServerError",
    "ExtendTimeoutError",
    "ExtendUnauthorizedError",
    "ExtendUnprocessableError",
    "File",
    "PollingSchedule",
    "ProcessorRun",
    "ReviewPolicy",
    "StepRun",
    "UnsupportedApiVersionError",
    "Usage",
    "WaitTimeoutError",
    "WorkflowRun",
    "WorkflowRunPage",
    "WorkflowRunStatus",
    "WorkflowRunSummary",
    "redact_text",
    "redact_url",
]
