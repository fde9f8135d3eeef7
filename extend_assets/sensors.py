"""The run-status sensor (implementation in :mod:`extend_assets.sensing`)."""

from extend_assets.sensing import (
    PollerSettings,
    RunStatusPoller,
    SensorCursor,
    Submission,
    build_extend_run_status_sensor,
)

__all__ = [
    "PollerSettings",
    "RunStatusPoller",
    "SensorCursor",
    "Submission",
    "build_extend_run_status_sensor",
]
