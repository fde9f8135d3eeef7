"""The API versions the emulator serves, chosen per request by ``x-extend-api-version``.

The emulator keeps its own constants (it is an independent check of the client)."""

from __future__ import annotations

API_2025 = "2025-04-21"
API_2026 = "2026-02-09"
VERSIONS = (API_2025, API_2026)
#: The shape of the error answered when the header is missing or unknown.
DEFAULT_ERROR_VERSION = API_2025
