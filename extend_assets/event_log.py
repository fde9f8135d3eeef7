"""Everything written to and read from Dagster's event log, as typed records: one contract.

- The submission ledger: one observation per phase of each submission
  (:class:`EventLogLedger`), on the batches asset's partition. It is read and written
  only under the partitions' submission lock (:mod:`extend_assets.submission.locks`),
  so one read is the whole truth; after an asset wipe it is rebuilt from Extend once
  per partition (a marker observation records that it was).
- What a materialization of the batches asset submitted (:class:`SubmissionRecord`):
  written by the asset, read back by the run-status sensor and the demo. Like
  dagster-fivetran's ``FivetranMetadataSet``, the record owns its ``extend/...`` keys.
- The sensor's progress observations (:func:`progress_observations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    DagsterInstance,
    MetadataValue,
)

from extend_assets.sensing import Progress, SubmittedGroup
from extend_assets.submission.ledger import LedgerEvent, PartitionLedger

LEDGER_METADATA_KEY = "extend/ledger"
REBUILT_METADATA_KEY = "extend/ledger_rebuilt_after_wipe"
LEDGER_PAGE = 1000
SUBMISSIONS_PAGE = 500


def metadata_value(metadata: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The plain value under ``key`` (a ``MetadataValue``'s ``.value``, or the raw value)."""
    raw = metadata.get(key)
    if raw is None:
        return default
    return getattr(raw, "value", raw)


def last_wipe_timestamp(instance: DagsterInstance, asset_key: AssetKey) -> float | None:
    """When the asset was last wiped (Unix seconds), or None if never."""
    records = instance.get_asset_records([asset_key])
    details = records[0].asset_entry.asset_details if records else None
    return details.last_wipe_timestamp if details is not None else None


class EventLogLedger:
    """Reads and writes ledger events as observations on the submission asset."""

    def __init__(self, instance: DagsterInstance, asset_key: AssetKey) -> None:
        self._instance = instance
        self._asset_key = asset_key

    def read(self, partitions: Iterable[str]) -> dict[str, PartitionLedger]:
        """The ledgers of ``partitions``, folded from the event log in storage order,
        with when each was last rebuilt after a wipe."""
        wanted = list(partitions)
        ledgers = {partition: PartitionLedger(partition) for partition in wanted}
        if not wanted:
            return ledgers
        records_filter = AssetRecordsFilter(asset_key=self._asset_key, asset_partitions=wanted)
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded: each page moves the cursor forward
            result = self._instance.fetch_observations(
                records_filter, limit=LEDGER_PAGE, cursor=cursor, ascending=True
            )
            for record in result.records:
                observation = record.asset_observation
                if observation is None or observation.partition not in ledgers:
                    continue
                ledger = ledgers[observation.partition]
                rebuilt = metadata_value(observation.metadata, REBUILT_METADATA_KEY)
                if rebuilt is not None:
                    ledger.rebuilt_after_wipe = max(
                        ledger.rebuilt_after_wipe or 0.0, float(rebuilt)
                    )
                payload = metadata_value(observation.metadata, LEDGER_METADATA_KEY)
                if isinstance(payload, Mapping):
                    event = LedgerEvent.from_json(payload)
                    if event.partition in ledgers:
                        ledgers[event.partition].apply(event, record.storage_id)
            if not result.has_more:
                break
            cursor = result.cursor
        return ledgers

    def record(self, log_event: Callable[[AssetObservation], None], event: LedgerEvent) -> None:
        """Log the event's observation (written to the event log at once, mid-step)."""
        log_event(self.observation(event))

    def record_rebuilt(
        self, log_event: Callable[[AssetObservation], None], partition: str, wiped_at: float
    ) -> None:
        """Mark a partition's ledger as rebuilt from Extend after the wipe at ``wiped_at``."""
        log_event(
            AssetObservation(
                asset_key=self._asset_key,
                partition=partition,
                metadata={REBUILT_METADATA_KEY: wiped_at},
            )
        )

    def observation(self, event: LedgerEvent) -> AssetObservation:
        phase_counts = {"documents": len(event.documents)} if event.documents else {}
        return AssetObservation(
            asset_key=self._asset_key,
            partition=event.partition,
            metadata={
                LEDGER_METADATA_KEY: MetadataValue.json(event.to_json()),
                "extend/ledger_phase": event.phase,
                **phase_counts,
            },
        )


@dataclass(frozen=True)
class SubmissionRecord:
    """What one materialization of the batches asset sent to Extend (or adopted)."""

    documents_submitted: int
    batch_ids: tuple[str, ...]
    run_ids: tuple[str, ...]
    partitions: tuple[str, ...]
    submitted_at: float
    """Just before the first POST (or the oldest adopted intent), Unix seconds."""
    batch_ids_by_partition: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "extend/documents_submitted": self.documents_submitted,
            "extend/batch_ids": MetadataValue.json(list(self.batch_ids)),
            "extend/run_ids": MetadataValue.json(list(self.run_ids)),
            "extend/partitions": MetadataValue.json(list(self.partitions)),
            "extend/submitted_at": MetadataValue.timestamp(self.submitted_at),
            "extend/all_batch_ids": MetadataValue.json(
                {p: list(b) for p, b in self.batch_ids_by_partition.items()}
            ),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> SubmissionRecord | None:
        """The record in a materialization's metadata; None when another writer made it."""
        try:
            per_partition = metadata_value(metadata, "extend/all_batch_ids", {}) or {}
            if not isinstance(per_partition, Mapping):
                per_partition = {}
            return cls(
                documents_submitted=int(
                    metadata_value(metadata, "extend/documents_submitted", 0) or 0
                ),
                batch_ids=tuple(str(b) for b in metadata_value(metadata, "extend/batch_ids", [])),
                run_ids=tuple(str(r) for r in metadata_value(metadata, "extend/run_ids", [])),
                partitions=tuple(str(p) for p in metadata_value(metadata, "extend/partitions", [])),
                submitted_at=float(metadata_value(metadata, "extend/submitted_at", 0.0) or 0.0),
                batch_ids_by_partition={
                    str(p): [str(b) for b in batches or []] for p, batches in per_partition.items()
                },
            )
        except (TypeError, ValueError):
            return None

    def to_group(self, group_id: str, partition: str | None) -> SubmittedGroup | None:
        """The sensor's view: a group to watch, or None when nothing was submitted."""
        if self.documents_submitted <= 0:
            return None
        partitions = list(self.partitions)
        if partition is not None and partition not in partitions:
            partitions.append(partition)
        wanted = set(self.batch_ids)
        batch_partitions: dict[str, list[str]] = {}
        for part, batches in self.batch_ids_by_partition.items():
            for batch in batches:
                if batch in wanted:
                    batch_partitions.setdefault(batch, []).append(part)
        return SubmittedGroup(
            group_id=group_id,
            partitions=tuple(partitions),
            batch_ids=self.batch_ids,
            run_ids=self.run_ids,
            expected=self.documents_submitted,
            submitted_at=self.submitted_at,
            batch_partitions=batch_partitions,
        )


def read_submitted_groups(
    instance: DagsterInstance, asset_key: AssetKey, after_storage_id: int | None
) -> tuple[list[SubmittedGroup], int | None]:
    """Groups recorded since ``after_storage_id``; returns them and the new read position."""
    result = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, after_storage_id=after_storage_id),
        limit=SUBMISSIONS_PAGE,
        ascending=True,
    )
    groups: list[SubmittedGroup] = []
    last_id = after_storage_id
    for record in result.records:
        last_id = record.storage_id
        materialization = record.asset_materialization
        if materialization is None:
            continue
        submitted = SubmissionRecord.from_metadata(materialization.metadata)
        group = (
            submitted.to_group(
                record.run_id or f"event-{record.storage_id}", materialization.partition
            )
            if submitted is not None
            else None
        )
        if group is not None:
            groups.append(group)
    return groups, last_id


def progress_observations(asset_key: AssetKey, progress: Progress) -> list[AssetObservation]:
    """One observation per partition of a group: what the sensor knows of its runs."""
    metadata: dict[str, Any] = {
        "extend/group": progress.group_id,
        "extend/state": progress.state,
        "extend/runs_expected": progress.expected,
        "extend/runs_settled_estimate": progress.settled_estimate,
        "extend/runs_by_status": MetadataValue.json(progress.counts),
        "extend/batches_confirmed": progress.batches_confirmed,
        "extend/batches": progress.batches,
        "extend/stuck_runs": progress.stuck,
        "extend/group_partitions": MetadataValue.json(list(progress.partitions)),
    }
    return [
        AssetObservation(asset_key=asset_key, partition=part, metadata=metadata)
        for part in progress.partitions
    ]
