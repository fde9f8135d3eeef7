"""Receive Extend's webhooks without Dagster: verify, dedupe, land; read back.

Modules, one job each:

- :mod:`.signature`  ``verify`` / ``sign`` the ``v0:{timestamp}:{body}`` HMAC as SDK 1.20; ``Secrets``
- :mod:`.events`     the envelope of either API version, ``signed_data_url`` detection
- :mod:`.landing`    the landing zone (``s3://`` or a directory): ``land`` and the readers
- :mod:`.fetch`      bounded fetch of a ``signed_data_url`` payload
- :mod:`.body`       large inline bodies: envelope and scrubbed payload as a stream (ijson)
- :mod:`.app`        the Starlette receiver (needs the ``webhooks`` extra)
- :mod:`.cli`        ``extend-assets webhooks``, served by uvicorn

Errors: see :mod:`.errors` (``WebhookError`` is the root). This package never imports
Dagster, so the sensor and the outputs import it freely.
"""

from extend_assets.webhooks.errors import (
    EventError,
    LandingError,
    PayloadFetchError,
    SignatureError,
    WebhookError,
)
from extend_assets.webhooks.events import API_VERSIONS, WebhookEvent, parse_event
from extend_assets.webhooks.landing import EventPage, LandedEvent, LandingZone
from extend_assets.webhooks.signature import Secrets, sign, verify
from extend_assets.webhooks.stores import open_landing_zone

__all__ = [
    "API_VERSIONS",
    "EventError",
    "EventPage",
    "LandedEvent",
    "LandingError",
    "LandingZone",
    "PayloadFetchError",
    "Secrets",
    "SignatureError",
    "WebhookError",
    "WebhookEvent",
    "open_landing_zone",
    "parse_event",
    "sign",
    "verify",
]
