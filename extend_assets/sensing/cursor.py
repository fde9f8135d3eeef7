"""The run-status sensor's cursor: small, JSON, versioned.

Nothing here holds one entry per run of a batch: a group (one Dagster run's
submissions) keeps its batch ids, its expected run count and counters by status.
Only runs created one by one (the priority path) are listed by id, and each id
leaves the cursor once its run settles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

CURSOR_VERSION = 2


@dataclass
class OpenGroup:
    """A group with runs that may still be unsettled."""

    id: str
    partitions: list[str]
    batches: list[str]
    expected: int
    start: float
    """Server time from which this group's runs may change (submitted_at minus a margin)."""
    wm: float
    """Server time up to which updates have been counted for this group."""
    direct: list[str] = field(default_factory=list)
    """Run ids created one by one that were not yet seen settled (exact, shrinks)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Sightings by status since submission (estimates: a run may be counted twice)."""
    confirm_pos: int = 0
    """(unsettled status, batch) pairs already found empty, status by status (version 2)."""
    last_change: float = 0.0
    last_confirm: float = 0.0
    confirmed_counts: int = -1
    """Settled estimate at the last confirmation attempt (retry when it moves)."""
    batch_partitions: dict[str, list[str]] = field(default_factory=dict)
    stuck: int = 0
    events_counted_at: float = -1
    """Webhooks: the sightings estimate when distinct runs were last counted exactly."""


@dataclass
class ClosedGroup:
    """A settled group, kept (bounded) so later review outcomes re-request its partitions."""

    id: str
    partitions: list[str]
    batches: list[str]
    closed_wm: float
    closed_at: float
    rerequests: int = 0
    batch_partitions: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ScanState:
    """A scan of the workflow's runs by updatedAt descending, resumable across ticks."""

    lower: float
    floor: float | None = None
    """Runs at or below this updatedAt end the scan (``lower`` minus the overlap, if any)."""
    upper: float | None = None
    token: str | None = None
    started_at: float = 0.0
    pages: int = 0
    changed: int = 0
    boundary: list[str] = field(default_factory=list)


@dataclass
class SensorCursor:
    """Everything the sensor remembers between ticks."""

    version: int = CURSOR_VERSION
    policy: str = "wait"
    last_storage_id: int | None = None
    wm: float | None = None
    """Upper bound (server updatedAt) of the last completed scan."""
    boundary: list[str] = field(default_factory=list)
    """Digests of ``id@updatedAt`` counted within the overlap below ``wm``: not counted twice."""
    wm_set_at: float = 0.0
    """Sensor clock when ``wm`` last moved."""
    wm_rechecked: bool = False
    """The overlap below ``wm`` was read again by a later scan: late commits have landed."""
    scan: ScanState | None = None
    open: list[OpenGroup] = field(default_factory=list)
    closed: list[ClosedGroup] = field(default_factory=list)
    change_rate: float | None = None
    """Runs of the workflow changing per second (all runs, ours or not), from past scans."""
    last_scan_at: float | None = None
    last_stuck_check: float = 0.0
    events_position: str | None = None
    """Webhook completion: landed events up to this position were read."""
    failed_ticks: int = 0
    """Ticks in a row that Extend did not answer (transient errors); reset by an answer."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, policy: str = "wait") -> SensorCursor:
        """Parse a cursor; anything unreadable or from another version starts over."""
        fresh = cls(policy=policy)
        if not text:
            return fresh
        try:
            data = json.loads(text)
            if not isinstance(data, Mapping) or data.get("version") != CURSOR_VERSION:
                return fresh
            cursor = _parse(data)
        except (ValueError, TypeError, KeyError, AttributeError):
            return fresh
        if cursor.policy != policy:
            # Confirmation progress depends on which statuses count as unsettled.
            cursor.policy = policy
            for group in cursor.open:
                group.confirm_pos = 0
        return cursor


def _parse(data: Mapping[str, Any]) -> SensorCursor:
    scan = data.get("scan")
    return SensorCursor(
        version=int(data["version"]),
        policy=str(data.get("policy", "wait")),
        last_storage_id=_opt_int(data.get("last_storage_id")),
        wm=_opt_float(data.get("wm")),
        boundary=[str(k) for k in data.get("boundary") or []],
        wm_rechecked=bool(data.get("wm_rechecked", False)),
        wm_set_at=float(data.get("wm_set_at") or 0.0),
        scan=ScanState(**scan) if isinstance(scan, Mapping) else None,
        open=[OpenGroup(**g) for g in data.get("open") or []],
        closed=[ClosedGroup(**g) for g in data.get("closed") or []],
        change_rate=_opt_float(data.get("change_rate")),
        last_scan_at=_opt_float(data.get("last_scan_at")),
        last_stuck_check=float(data.get("last_stuck_check") or 0.0),
        events_position=_opt_str(data.get("events_position")),
        failed_ticks=int(data.get("failed_ticks") or 0),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
