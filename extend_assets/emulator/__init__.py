"""A faithful local Extend workflow-run API (2025-04-21) for tests, demos and CI.

State and rules (:mod:`state`, :mod:`rules`, :mod:`engine`) are kept apart from the
HTTP wire (:mod:`routes`, :mod:`wire`), as moto separates models from responses.
"""

from extend_assets.emulator.config import DEFAULT_API_KEY, SAMPLE_WORKFLOW_ID
from extend_assets.emulator.server import EmulatorServer
from extend_assets.emulator.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "DEFAULT_API_KEY",
    "SAMPLE_WORKFLOW_ID",
    "EmulatorServer",
    "WebhookVerificationError",
    "verify_webhook",
]
