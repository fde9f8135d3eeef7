"""Workflows the emulator knows, from a YAML or JSON file (the sample by default)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_API_KEY = "emulator-dev-key"
SAMPLE_WORKFLOW_ID = "workflow_sampleInvoices0000000"
SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "samples" / "invoice_workflow.yaml"


class EmulatorConfigError(ValueError):
    """The workflow file is unusable; the message names the workflow and field."""


@dataclass(frozen=True)
class Classification:
    id: str
    type: str
    description: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Workflow:
    id: str
    name: str
    versions: tuple[str, ...]
    classifications: tuple[Classification, ...] = ()
    schema: dict[str, Any] | None = None
    review_threshold: float | None = None
    raw_steps: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def resolve_version(self, requested: str | None) -> str | None:
        """The version a run uses: as asked, else the latest published, else draft."""
        if requested is not None:
            return requested if requested in self.versions else None
        published = [v for v in self.versions if v != "draft"]
        return published[-1] if published else "draft"

    def version_id(self, version: str) -> str:
        digest = hashlib.sha256(f"{self.id}:{version}".encode()).hexdigest()
        return "workflow_version_" + digest[:21]


def load_workflows(path: str | Path | None = None) -> dict[str, Workflow]:
    source = Path(path) if path is not None else SAMPLE_CONFIG
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise EmulatorConfigError(f"cannot read workflow config {source}: {error}") from None
    data = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    entries = data.get("workflows") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise EmulatorConfigError(f"{source}: expected a top-level 'workflows:' list")
    workflows = [
        parse_workflow(entry, f"{source}: workflows[{i}]") for i, entry in enumerate(entries)
    ]
    return {w.id: w for w in workflows}


def parse_workflow(entry: Any, where: str) -> Workflow:
    if not isinstance(entry, Mapping) or not entry.get("id"):
        raise EmulatorConfigError(f"{where}: each workflow needs an 'id'")
    versions = [str(v) for v in entry.get("versions") or ["1"]]
    if "draft" not in versions:
        versions.append("draft")
    classifications: list[Classification] = []
    schema: dict[str, Any] | None = None
    threshold: float | None = None
    steps = entry.get("steps") or []
    if not isinstance(steps, Sequence):
        raise EmulatorConfigError(f"{where}.steps: must be a list")
    for i, step in enumerate(steps):
        kind = str((step or {}).get("type", "")).upper()
        if kind == "CLASSIFY":
            classifications = [
                Classification(
                    id=str(c["id"]),
                    type=str(c.get("type", c["id"])),
                    description=str(c.get("description", "")),
                    keywords=tuple(str(k).lower() for k in c.get("keywords") or [c["id"]]),
                )
                for c in step.get("classifications") or []
            ]
        elif kind == "EXTRACT":
            schema = step.get("schema")
            if not isinstance(schema, Mapping) or schema.get("type") != "object":
                raise EmulatorConfigError(f"{where}.steps[{i}].schema: must be an object schema")
            schema = dict(schema)
        elif kind == "REVIEW":
            threshold = float(step.get("confidence_threshold", 0.8))
        else:
            raise EmulatorConfigError(
                f"{where}.steps[{i}].type: {kind!r} is unknown; use CLASSIFY, EXTRACT or REVIEW"
            )
    return Workflow(
        id=str(entry["id"]),
        name=str(entry.get("name", entry["id"])),
        versions=tuple(versions),
        classifications=tuple(classifications),
        schema=schema,
        review_threshold=threshold,
        raw_steps=tuple(dict(s) for s in steps),
    )


@dataclass(frozen=True)
class WebhookDelivery:
    """How the emulator delivers webhooks: retries, and faults to test receivers with.

    A failed delivery (connection error, timeout or non-2xx) is retried after
    ``initial_delay * multiplier**n`` seconds (capped at ``max_delay``), up to
    ``max_attempts`` attempts in all, each signed afresh; other events keep flowing
    meanwhile. Extend retries with backoff too, but its schedule is not documented
    (reference §7.5 [UNCERTAIN]); the defaults are a plausible stand-in. Tests shrink
    the delays. Faults, decided by a ``seed``ed generator:

    - ``duplicate_rate``: share of delivered events sent once more (same eventId and body);
    - ``reorder_window``: events are held and released in shuffled groups of this size
      (a partial group after ``reorder_hold`` seconds);
    - ``drop_rate``: share of events never sent at all (lost webhooks).

    ``concurrency`` deliveries are in flight at once (Extend sends events in parallel;
    1 keeps the order of a fault-free run exactly as created).
    """

    max_attempts: int = 8
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    timeout: float = 30.0
    duplicate_rate: float = 0.0
    reorder_window: int = 0
    reorder_hold: float = 0.2
    drop_rate: float = 0.0
    seed: int = 0
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise EmulatorConfigError("WebhookDelivery.concurrency: must be at least 1")
        if self.max_attempts < 1:
            raise EmulatorConfigError("WebhookDelivery.max_attempts: must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise EmulatorConfigError("WebhookDelivery: delays must be >= 0 and multiplier >= 1")
        for name in ("duplicate_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise EmulatorConfigError(f"WebhookDelivery.{name}: must be within 0..1")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure (1-based)."""
        return float(
            min(self.max_delay, self.initial_delay * self.multiplier ** (failed_attempts - 1))
        )
