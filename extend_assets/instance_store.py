"""What the Dagster instance offers besides its event log, where it offers it.

- The submission lock (:func:`submission_locks`): PostgreSQL advisory locks when the
  instance's event log is in PostgreSQL (every machine of the deployment), ``flock``
  files beside the instance with SQLite storage (one machine).
- The shared request schedule (:func:`instance_rate_limit_store`): in the instance's
  PostgreSQL when it has one, else beside a SQLite instance's files (see
  ``ExtendResource.rate_limit_store``).
- The workflow's schema union (:class:`WorkflowSchemaStore`): kept in the materialization
  metadata of the runs asset (any instance, Dagster+ included) and cached in the
  instance's key-value store where the run storage has one (dagster-cloud's answers
  ``NotImplementedError``; an asset wipe does not touch it). Nothing that exactly once
  needs lives in the key-value store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, MetadataValue

from extend_assets.outputs.schema_union import Extractor, WorkflowSchema
from extend_assets.submission.locks import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    FileLocks,
    PartitionLocks,
    PostgresAdvisoryLocks,
    default_lock_directory,
)

PREFIX = "extend_assets"
SCHEMA_METADATA_KEY = "extend/workflow_schema"
# Materializations of the runs asset read for the schema union: concurrent runs of
# other partitions each record theirs.
SCHEMA_MATERIALIZATIONS = 20

logger = logging.getLogger("extend_assets")


def instance_postgres_url(instance: DagsterInstance) -> str | None:
    """The URL of the instance's PostgreSQL event log (every machine of the deployment
    reaches it), or None for other storages."""
    postgres_url = getattr(instance.event_log_storage, "postgres_url", None)
    return postgres_url if isinstance(postgres_url, str) else None


def _stores_in_sqlite(instance: DagsterInstance) -> bool:
    """SQLite storage: every process that shares it runs on one machine."""
    return "sqlite" in type(instance.event_log_storage).__name__.lower()


def instance_rate_limit_store(instance: DagsterInstance) -> str | None:
    """Where this instance's processes can share one request schedule: its PostgreSQL
    (every machine), else a directory beside a SQLite instance's files (every process
    of its one machine), else None (each process paces adaptively alone)."""
    postgres_url = instance_postgres_url(instance)
    if postgres_url is not None:
        return postgres_url
    root = getattr(instance, "root_directory", None)
    if root and _stores_in_sqlite(instance):
        return str(Path(root) / "extend_assets_rate_limit")
    return None


def submission_locks(
    instance: DagsterInstance, timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> PartitionLocks:
    """The serialization point this instance offers its submissions."""
    postgres_url = instance_postgres_url(instance)
    if postgres_url is not None:
        return PostgresAdvisoryLocks(postgres_url, timeout)
    root = getattr(instance, "root_directory", None)
    if not _stores_in_sqlite(instance):
        logger.warning(
            "This Dagster instance's event log (%s) offers no lock shared across machines, so "
            "overlapping submissions are serialized per machine only. Set the workflow's "
            "submission_lock='s3://BUCKET/PREFIX' (S3 leases) to serialize them everywhere.",
            type(instance.event_log_storage).__name__,
        )
    directory = default_lock_directory(root or Path(tempfile.gettempdir()) / "extend_assets")
    return FileLocks(directory, timeout)


def _kv_read(instance: DagsterInstance, key: str) -> Any:
    """A cached value, or None where the run storage has no key-value store."""
    try:
        value = instance.run_storage.get_cursor_values({key}).get(key)
    except NotImplementedError:
        return None
    return json.loads(value) if value else None


def _kv_write(instance: DagsterInstance, key: str, value: Any) -> None:
    """One key per call: SQLite's ``set_cursor_values`` drops new keys written together
    with existing ones."""
    with contextlib.suppress(NotImplementedError):
        instance.run_storage.set_cursor_values({key: json.dumps(value, default=str)})


class WorkflowSchemaStore:
    """The union of a workflow's extraction schemas: recorded in the runs asset's
    materialization metadata, cached in the key-value store where there is one."""

    def __init__(self, instance: DagsterInstance, workflow_id: str, runs_key: AssetKey) -> None:
        self._instance = instance
        self._key = f"{PREFIX}/schema/{workflow_id}"
        self._runs_key = runs_key

    def read(self) -> WorkflowSchema:
        union = WorkflowSchema.from_json(_kv_read(self._instance, self._key))
        result = self._instance.fetch_materializations(
            AssetRecordsFilter(asset_key=self._runs_key),
            limit=SCHEMA_MATERIALIZATIONS,
            ascending=False,
        )
        for record in reversed(result.records):  # oldest first: stable column order
            materialization = record.asset_materialization
            raw = materialization.metadata.get(SCHEMA_METADATA_KEY) if materialization else None
            value = getattr(raw, "value", raw)
            if isinstance(value, dict):
                union.update(WorkflowSchema.from_json(value))
        return union

    def merge(self, seen: Sequence[Extractor]) -> WorkflowSchema:
        """The stored union widened by ``seen`` (stored first, so column order and
        the names of colliding fields are stable)."""
        union = self.read()
        changed = False
        for extractor, schema in seen:
            changed = union.add(schema, extractor) or changed
        if changed:
            _kv_write(self._instance, self._key, union.to_json())
        return union


def schema_metadata(schema: WorkflowSchema) -> dict[str, Any]:
    """The union as the runs asset records it, for the next materialization to read."""
    return {SCHEMA_METADATA_KEY: MetadataValue.json(schema.to_json())}
