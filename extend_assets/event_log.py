"""Everything written to and read from Dagster's event log, as typed records: one contract.

- The submission ledger: one observation per phase of each submission
  (:class:`EventLogLedger`), on the batches asset's partition, with a durable copy
  outside the wipeable event index (:class:`~extend_assets.instance_store.LedgerCopy`).
- What a materialization of the batches asset submitted (:class:`SubmissionRecord`):
  written by the asset, read back by the run-status sensor and the demo. Like
  dagster-fivetran's ``FivetranMetadataSet``, the record owns its ``extend/...`` keys.
- The sensor's progress observations (:func:`progress_observations`).
"""

from __future__ import annotations

import time
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

from extend_assets.instance_store import LedgerCopy, event_text
from extend_assets.sensing import Progress, SubmittedGroup
from extend_assets.submission.ledger import (
    DocumentVersion,
    LedgerEvent,
    PartitionLedger,
    Submission,
    earlier_claims,
)

LEDGER_METADATA_KEY = "extend/ledger"
LEDGER_PAGE = 1000
SUBMISSIONS_PAGE = 500
# An open intent older than this is reconciled even if its Dagster run still looks
# alive (a worker killed without run monitoring stays STARTED forever). A POST, its
# presigning and its bounded retries take far less.
STALE_INTENT_SECONDS = 900.0
# Between recording an intent and re-reading the ledger: lets a concurrent insert
# that took an earlier storage id commit first (Postgres hands out ids before commit).
CLAIM_GRACE_SECONDS = 0.5
# How long a run that dropped documents to a concurrent submission waits for that
# submission's outcome before writing its ledger table.
WAIT_FOR_WINNERS_SECONDS = 300.0


def _ids_follow_commits(instance: DagsterInstance) -> bool:
    """SQLite serializes writers, so a storage id is taken at commit: no grace needed."""
    return "sqlite" in type(instance.event_log_storage).__name__.lower()


def is_live_intent(instance: DagsterInstance, sub: Submission, this_run_id: str) -> bool:
    """An open intent whose Dagster run is still running and that is not stale: its
    POST may be in flight, so nobody else may reconcile (abandon) it."""
    if time.time() - sub.recorded_at > STALE_INTENT_SECONDS:
        return False
    if not sub.dagster_run_id or sub.dagster_run_id == this_run_id:
        return False
    run = instance.get_run_by_id(sub.dagster_run_id)
    return run is not None and not run.is_finished


def metadata_value(metadata: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The plain value under ``key`` (a ``MetadataValue``'s ``.value``, or the raw value)."""
    raw = metadata.get(key)
    if raw is None:
        return default
    return getattr(raw, "value", raw)


class EventLogLedger:
    """Reads and writes ledger events as observations on the submission asset."""

    def __init__(self, instance: DagsterInstance, asset_key: AssetKey) -> None:
        self._instance = instance
        self._asset_key = asset_key
        self._copy = LedgerCopy(instance, asset_key)

    def read(self, partitions: Iterable[str]) -> dict[str, PartitionLedger]:
        """The ledgers of ``partitions``: the event log's records, plus the events only
        the durable copy still has (an asset wipe hides the observations)."""
        wanted = list(partitions)
        ledgers = {partition: PartitionLedger(partition) for partition in wanted}
        if not wanted:
            return ledgers
        logged = self._logged_events(wanted)
        copied = self._copy.read(wanted)
        for partition in wanted:
            seen = {event_text(event) for event, _, _ in logged[partition]}
            only_copied = [e for e in copied[partition] if event_text(e) not in seen]
            entries = [(e, None, None) for e in only_copied] + logged[partition]
            for event, order, run_id in sorted(entries, key=lambda entry: entry[0].recorded_at):
                ledgers[partition].apply(event, order, run_id)
        stored = {p: {event_text(e) for e in copied[p]} for p in wanted}
        self._copy.repair(
            {p: [e for e, _, _ in logged[p] if event_text(e) not in stored[p]] for p in wanted}
        )
        return ledgers

    def _logged_events(
        self, wanted: Sequence[str]
    ) -> dict[str, list[tuple[LedgerEvent, int | None, str | None]]]:
        """Each partition's ledger events in the event log, with storage id and run id."""
        events: dict[str, list[tuple[LedgerEvent, int | None, str | None]]] = {
            p: [] for p in wanted
        }
        records_filter = AssetRecordsFilter(asset_key=self._asset_key, asset_partitions=wanted)
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded: each page moves the cursor forward
            result = self._instance.fetch_observations(
                records_filter, limit=LEDGER_PAGE, cursor=cursor, ascending=True
            )
            for record in result.records:
                observation = record.asset_observation
                if observation is None:
                    continue
                payload = metadata_value(observation.metadata, LEDGER_METADATA_KEY)
                if not isinstance(payload, Mapping):
                    continue
                event = LedgerEvent.from_json(payload)
                if event.partition in events:
                    events[event.partition].append((event, record.storage_id, record.run_id))
            if not result.has_more:
                break
            cursor = result.cursor
        return events

    def record(self, log_event: Callable[[AssetObservation], None], event: LedgerEvent) -> None:
        """Log the event's observation, then keep its durable copy."""
        log_event(self.observation(event))
        self._copy.add(event)

    def claims(
        self,
        submission_id: str,
        partitions: Sequence[str],
        settled_before: set[tuple[str, str]],
    ) -> dict[DocumentVersion, str]:
        """Re-read the ledger after an intent: what earlier live submissions hold."""
        if not _ids_follow_commits(self._instance):
            time.sleep(CLAIM_GRACE_SECONDS)
        return earlier_claims(self.read(partitions), submission_id, settled_before)

    def wait_until_settled(
        self,
        submission_ids: set[str],
        partitions: Sequence[str],
        log: Callable[[str], None],
        this_run_id: str,
    ) -> bool:
        """Wait for concurrent submissions to record their outcome, so this run's ledger
        table lists their documents with a batch. False when one is still open after
        ``WAIT_FOR_WINNERS_SECONDS`` or its run is gone."""
        deadline = time.monotonic() + WAIT_FOR_WINNERS_SECONDS
        while True:
            still_open = [
                sub
                for ledger in self.read(partitions).values()
                for sub in ledger.open_submissions()
                if sub.submission_id in submission_ids
            ]
            if not still_open:
                return True
            live = [s for s in still_open if is_live_intent(self._instance, s, this_run_id)]
            if not live or time.monotonic() > deadline:
                log(
                    f"{len(still_open)} concurrent submission(s) recorded no outcome yet; "
                    "their documents show up once a later materialization of the partition "
                    "reconciles them."
                )
                return False
            time.sleep(1.0)

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
