"""The API versions this client speaks (sent as ``x-extend-api-version``)."""

from __future__ import annotations

API_2025 = "2025-04-21"
API_2026 = "2026-02-09"
SUPPORTED_API_VERSIONS: tuple[str, ...] = (API_2025, API_2026)
DEFAULT_API_VERSION = API_2025


class UnsupportedApiVersionError(ValueError):
    """An ``api_version`` this client cannot speak; refused before anything is sent."""


def check_api_version(api_version: object) -> str:
    if api_version not in SUPPORTED_API_VERSIONS:
        raise UnsupportedApiVersionError(
            f"api_version {api_version!r} is not supported (x-extend-api-version); use one "
            f"of {', '.join(SUPPORTED_API_VERSIONS)}. {API_2026} is the version Extend points "
            f"new integrations to; {API_2025} is the default."
        )
    return str(api_version)
