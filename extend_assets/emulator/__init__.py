"""A faithful local Extend workflow-run API for tests, demos and CI: 2025-04-21 and
2026-02-09 on one port, chosen per request by ``x-extend-api-version``.

State and rules (:mod:`state`, :mod:`rules`, :mod:`engine`) are kept apart from the
HTTP wire, as moto separates models from responses: :mod:`routes` (routing, auth,
faults), :mod:`requests_2025` / :mod:`requests_2026` (request bodies → neutral inputs),
:mod:`wire` / :mod:`wire_2026` (stored runs → each version's shapes), :mod:`envelopes`
(success and error bodies), :mod:`webhook_payloads` (events in the endpoint's version).
It imports nothing from the client: it is an independent check of it.
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
