"""Durable state in the Dagster instance's key-value store, outside the wipeable event index.

Dagster keeps these values in its run storage (``run_storage.set_cursor_values``):
SQLite in ``DAGSTER_HOME`` locally, Postgres in production, shared by every process
and machine of the deployment, and untouched by an asset wipe. Kept here:

- each workflow's extraction schema, the union of every schema its runs carried,
  so that the tables' columns follow the workflow and not the day's runs;
- a copy of the submission ledger (:class:`LedgerCopy`), so that wiping the batches
  asset (which hides its observations, the ledger) never leads to a second
  submission of a document version Extend already has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dagster import AssetKey, DagsterInstance

from extend_assets.outputs.schema_union import Extractor, WorkflowSchema
from extend_assets.submission.ledger import LedgerEvent

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

    def merge(self, seen: Sequence[Extractor]) -> WorkflowSchema:
        """The stored union widened by ``seen`` (stored first, so column order and
        the names of colliding fields are stable)."""
        union = self.read()
        changed = False
        for extractor, schema in seen:
            changed = union.add(schema, extractor) or changed
        if changed:
            write_json(self._instance, self._key, union.to_json())
        return union


def event_text(event: LedgerEvent) -> str:
    return json.dumps(event.to_json(), sort_keys=True, default=str)


class LedgerCopy:
    """The ledger's events per partition, kept in the key-value store.

    Each partition's events are one value: read, add, write. Two runs adding to one
    partition at the same moment can lose one of the additions here; the event log
    still holds it, and every read of the ledger writes back what this copy lacks
    (:meth:`repair`), so only a wipe inside that window could lose it.
    """

    def __init__(self, instance: DagsterInstance, asset_key: AssetKey) -> None:
        self._instance = instance
        self._prefix = f"{PREFIX}/ledger/{asset_key.to_user_string()}/"

    def _key(self, partition: str) -> str:
        return self._prefix + partition

    def read(self, partitions: Iterable[str]) -> dict[str, list[LedgerEvent]]:
        wanted = list(partitions)
        keys = {self._key(p): p for p in wanted}
        values = self._instance.run_storage.get_cursor_values(set(keys)) if keys else {}
        events: dict[str, list[LedgerEvent]] = {p: [] for p in wanted}
        for key, value in values.items():
            for item in json.loads(value) if value else []:
                events[keys[key]].append(LedgerEvent.from_json(item))
        return events

    def add(self, event: LedgerEvent) -> None:
        self.repair({event.partition: [event]})

    def repair(self, missing: Mapping[str, Sequence[LedgerEvent]]) -> None:
        """Add events this copy lacks (read again first: another run may have written)."""
        wanted = {p: list(events) for p, events in missing.items() if events}
        if not wanted:
            return
        stored = self.read(wanted)
        pairs: dict[str, str] = {}
        for partition, events in wanted.items():
            merged = {event_text(e): e for e in stored[partition]}
            before = len(merged)
            merged.update((event_text(e), e) for e in events)
            if len(merged) != before:
                ordered = sorted(merged.values(), key=lambda e: e.recorded_at)
                pairs[self._key(partition)] = json.dumps(
                    [e.to_json() for e in ordered], default=str
                )
        if pairs:
            self._instance.run_storage.set_cursor_values(pairs)
