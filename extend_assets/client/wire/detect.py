"""Which version a JSON object is in, when the caller does not know (stored runs)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from extend_assets.client.wire import read_2025, read_2026
from extend_assets.client.wire.versions import API_2026, check_api_version


def looks_2026(data: Mapping[str, Any]) -> bool:
    """2026 runs and summaries have ``dashboardUrl`` / ``workflowVersion``; their step
    runs have ``result``; 2025 ones have ``url``, ``outputs`` or ``workflowId``."""
    if "dashboardUrl" in data or "workflowVersion" in data:
        return True
    steps = data.get("stepRuns")
    return isinstance(steps, list) and any(
        isinstance(s, Mapping) and ("result" in s or "stepType" in s) for s in steps
    )


def reader_for(data: Mapping[str, Any], api_version: str | None) -> ModuleType:
    if api_version is not None:
        return read_2026 if check_api_version(api_version) == API_2026 else read_2025
    return read_2026 if looks_2026(data) else read_2025
