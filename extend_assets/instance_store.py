"""Durable state in the Dagster instance's key-value store, outside the wipeable event index.

Dagster keeps these values in its run storage (``run_storage.set_cursor_values``):
SQLite in ``DAGSTER_HOME`` locally, Postgres in production, shared by every process
and machine of the deployment, and untouched by an asset wipe. Kept here:

- each workflow's extraction schema, the union of every schema its runs carried,
  so that the tables' columns follow the workflow and not the day's runs.
"""

from __future__ import annotations

import json
from typing import Any

from dagster import DagsterInstance

from extend_assets.outputs.schema_union import WorkflowSchema

PREFIX = "extend_assets"


def read_json(instance: DagsterInstance, key: str) -> Any:
    value = instance.run_storage.get_cursor_values({key}).get(key)
    return json.loads(value) if value else None


def write_json(instance: DagsterInstance, key: str, value: Any) -> None:
    instance.run_storage.set_cursor_values({key: json.dumps(value, default=str)})


class WorkflowSchemaStore:
    """The durable union of a workflow's extraction schemas."""

    def __init__(self, instance: DagsterInstance, workflow_id: str) -> None:
        self._instance = instance
        self._key = f"{PREFIX}/schema/{workflow_id}"

    def read(self) -> WorkflowSchema:
        return WorkflowSchema.from_json(read_json(self._instance, self._key))

    def merge(self, seen: WorkflowSchema) -> WorkflowSchema:
        """The stored union widened by ``seen`` (stored first, so column order is stable)."""
        stored = self.read()
        merged = stored.merged(seen)
        if merged.to_text() != stored.to_text():
            write_json(self._instance, self._key, merged.to_json())
        return merged
