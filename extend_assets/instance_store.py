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
    """The ledger's events, kept in the key-value store: per partition an index of
    submission ids, and per (partition, submission) that submission's events.

    A write touches one submission's events and the small index, so its cost does
    not grow with the partition. Two runs adding a submission to one partition's
    index at the same moment can lose one id here; the event log still holds its
    events, and every read of the ledger writes back what this copy lacks
    (:meth:`repair`), so only a wipe inside that window could lose it.
    """

    def __init__(self, instance: DagsterInstance, asset_key: AssetKey) -> None:
        self._instance = instance
        self._prefix = f"{PREFIX}/ledger/{asset_key.to_user_string()}/"

    def _index_key(self, partition: str) -> str:
        return f"{self._prefix}{partition}"

    def _events_key(self, partition: str, submission_id: str) -> str:
        return f"{self._prefix}{partition}/{submission_id}"

    def _get(self, keys: Iterable[str]) -> dict[str, Any]:
        wanted = set(keys)
        values = self._instance.run_storage.get_cursor_values(wanted) if wanted else {}
        return {key: json.loads(value) for key, value in values.items() if value}

    def read(self, partitions: Iterable[str]) -> dict[str, list[LedgerEvent]]:
        wanted = list(partitions)
        indexes = self._get(self._index_key(p) for p in wanted)
        ids = {p: [str(i) for i in indexes.get(self._index_key(p)) or []] for p in wanted}
        stored = self._get(self._events_key(p, i) for p in wanted for i in ids[p])
        return {
            p: [
                LedgerEvent.from_json(item)
                for i in ids[p]
                for item in stored.get(self._events_key(p, i)) or []
            ]
            for p in wanted
        }

    def add(self, event: LedgerEvent) -> None:
        self.repair({event.partition: [event]})

    def repair(self, missing: Mapping[str, Sequence[LedgerEvent]]) -> None:
        """Add events this copy lacks (read again first: another run may have written)."""
        by_key: dict[tuple[str, str], list[LedgerEvent]] = {}
        for partition, events in missing.items():
            for event in events:
                by_key.setdefault((partition, event.submission_id), []).append(event)
        if not by_key:
            return
        partitions = {p for p, _ in by_key}
        indexes = self._get(self._index_key(p) for p in partitions)
        stored = self._get(self._events_key(p, s) for p, s in by_key)
        pairs: dict[str, str] = {}
        for (partition, submission_id), events in by_key.items():
            key = self._events_key(partition, submission_id)
            merged = {event_text(e): e for e in map(LedgerEvent.from_json, stored.get(key) or [])}
            before = len(merged)
            merged.update((event_text(e), e) for e in events)
            if len(merged) != before:
                ordered = sorted(merged.values(), key=lambda e: e.recorded_at)
                pairs[key] = json.dumps([e.to_json() for e in ordered], default=str)
        for partition in partitions:
            index = [str(i) for i in indexes.get(self._index_key(partition)) or []]
            new = [s for p, s in by_key if p == partition and s not in index]
            if new:
                pairs[self._index_key(partition)] = json.dumps(index + new)
        if pairs:
            self._instance.run_storage.set_cursor_values(pairs)
