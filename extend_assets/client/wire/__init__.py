"""Everything that differs between the API versions, in one place per direction.

- :mod:`.inputs`: what callers pass (files, raw texts, batch inputs), checked and made
  version-neutral before anything is sent.
- :mod:`.build_2025`, :mod:`.build_2026`: version-neutral inputs → request bodies.
- :mod:`.read_2025`, :mod:`.read_2026`: response bodies → the typed models of
  :mod:`extend_assets.client.models`, which look the same whichever version spoke.

Nothing above the client branches on the version: :func:`wire_for` picks the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from extend_assets.client.wire import build_2025, build_2026, read_2025, read_2026
from extend_assets.client.wire.versions import (
    API_2025,
    API_2026,
    DEFAULT_API_VERSION,
    SUPPORTED_API_VERSIONS,
    UnsupportedApiVersionError,
    check_api_version,
)

__all__ = [
    "API_2025",
    "API_2026",
    "DEFAULT_API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "UnsupportedApiVersionError",
    "Wire",
    "check_api_version",
    "wire_for",
]


@dataclass(frozen=True)
class Wire:
    """The request builders and response readers of one API version."""

    version: str
    build: ModuleType
    read: ModuleType


_WIRES = {
    API_2025: Wire(API_2025, build_2025, read_2025),
    API_2026: Wire(API_2026, build_2026, read_2026),
}


def wire_for(api_version: str) -> Wire:
    return _WIRES[check_api_version(api_version)]
