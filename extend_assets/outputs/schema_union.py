"""The workflow's extraction schema: the union of every schema its runs ever carried.

A day's runs do not say which columns the table has: an all-failed or an empty day
carries no schema at all, and a new schema field appears on one day. So the tables'
columns follow this union, kept durably by the caller (the Dagster layer keeps it
in the instance's key-value store), never the runs that happened to arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from extend_assets import flatten

DEF_KEYS = ("$defs", "definitions")


@dataclass
class WorkflowSchema:
    """Top-level properties in first-seen order, and the definitions they refer to."""

    properties: dict[str, Any] = field(default_factory=dict)
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, schema: Mapping[str, Any] | None) -> bool:
        """Merge one extraction schema in; the first definition of a name wins."""
        if not schema:
            return False
        before = self.to_text()
        for name, node in (schema.get("properties") or {}).items():
            self.properties.setdefault(str(name), node)
        for key in DEF_KEYS:
            for name, node in (schema.get(key) or {}).items():
                self.defs.setdefault(key, {}).setdefault(str(name), node)
        return self.to_text() != before

    def merged(self, other: WorkflowSchema) -> WorkflowSchema:
        """This schema with ``other``'s new properties after its own."""
        out = WorkflowSchema.from_json(self.to_json())
        out.add(other.as_json_schema())
        return out

    def as_json_schema(self) -> dict[str, Any] | None:
        if not self.properties:
            return None
        return {"type": "object", "properties": dict(self.properties), **self.defs}

    def to_json(self) -> dict[str, Any]:
        return {"properties": self.properties, "defs": self.defs}

    def to_text(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WorkflowSchema:
        data = data or {}
        return cls(
            properties=dict(data.get("properties") or {}),
            defs={str(k): dict(v) for k, v in (data.get("defs") or {}).items()},
        )


def schema_seen(raws: Iterable[Mapping[str, Any]]) -> WorkflowSchema:
    """The union of the extraction schemas of these runs."""
    union = WorkflowSchema()
    for raw in raws:
        union.add(flatten.extraction_schema(raw))
    return union
