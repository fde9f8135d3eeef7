"""``extend_workflow_batches``: the submission ledger; each document version sent once.

Holding its partitions' submission lock (:func:`~extend_assets.instance_store.submission_locks`),
the asset reads the partitions' ledgers from the event log (rebuilt from Extend once
after an asset wipe), reconciles submissions a crash left open, sends what is new
(:class:`~extend_assets.submission.submitter.Submitter`) and records what it sent
(:class:`~extend_assets.event_log.SubmissionRecord`) for the run-status sensor.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import report_partitions
from extend_assets.assets.storage import for_storage
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.errors import ExtendAssetsConfigError
from extend_assets.event_log import EventLogLedger, SubmissionRecord, last_wipe_timestamp
from extend_assets.instance_store import submission_locks
from extend_assets.resources import ExtendResource, S3DocumentSource
from extend_assets.submission.ledger import (
    DocumentVersion,
    LedgerEvent,
    PartitionLedger,
    Submission,
)
from extend_assets.submission.ledger_table import ledger_frame
from extend_assets.submission.locks import PartitionLocks, S3LeaseLocks, lock_names
from extend_assets.submission.pending import (
    Reprocess,
    TextSource,
    already_done,
    current_versions,
    pending_from_objects,
    pending_from_texts,
)
from extend_assets.submission.rebuild import rebuild_ledger
from extend_assets.submission.s3 import presign_get
from extend_assets.submission.submitter import (
    RECONCILE_MARGIN_SECONDS,
    PendingDocument,
    ReconcileResult,
    SubmitResult,
    Submitter,
)


class SubmitConfig(Config):
    """Run config of the submission asset."""

    reprocess: Reprocess = Field(
        default="none",
        description="'none': only new or changed objects. 'failed': also resend documents "
        "whose last run FAILED. 'all': resend every listed document.",
    )


def build_workflow_batches_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any], upstream_key: AssetKey
) -> AssetsDefinition:
    """``extend_workflow_batches``: list, reconcile, submit, record."""
    from_s3 = s.raw_text_source is None

    @asset(
        key=keys.batches,
        ins={"documents": AssetIn(upstream_key)},
        kinds={"extend", "s3"} if from_s3 else {"extend"},
        pool=s.pool,
        required_resource_keys={s.extend_resource_key, s.source_resource_key}
        if from_s3 or s.submission_lock
        else {s.extend_resource_key},
        description=f"The submission ledger: every document version sent to Extend workflow "
        f"{s.workflow_id}, with its batch. Each version is sent at most once.",
        **common,
    )
    def extend_workflow_batches(
        context: AssetExecutionContext, config: SubmitConfig, documents: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        partitions = list(context.partition_keys)
        ledger_store = EventLogLedger(context.instance, context.asset_key)
        locks = _locks(context, s)
        with locks.hold(lock_names(s.workflow_id, partitions), context.log.info) as held:
            sent = _reconcile_and_submit(context, s, config, documents, ledger_store, held.check)
            # Read again, still under the lock: every outcome this run recorded.
            ledgers = ledger_store.read(partitions)
        result = sent.result
        adopted = _Adopted.of(sent.open_subs, sent.reconciled)
        frame = ledger_frame(
            (ledgers[p] for p in partitions),
            keep=current_versions(_text_source(s), documents, partitions),
        )
        submitted = SubmissionRecord(
            documents_submitted=result.documents_submitted + adopted.documents,
            batch_ids=tuple(sorted(set(result.batch_ids) | set(adopted.batch_ids))),
            run_ids=(*result.run_ids, *adopted.run_ids),
            partitions=tuple(partitions),
            submitted_at=sent.submitted_at,
            batch_ids_by_partition={
                p: sorted({sub.batch_id for sub in ledgers[p].submitted() if sub.batch_id})
                for p in partitions
            },
        )
        report_partitions(context, frame, _ledger_numbers(documents))
        return Output(
            for_storage(frame),
            metadata={
                "dagster/row_count": len(frame),
                "documents_listed": len(documents),
                "documents_submitted": result.documents_submitted,
                "documents_adopted": adopted.documents,
                "documents_rebuilt_after_wipe": sent.rebuilt,
                "documents_already_submitted": len(sent.done),
                "batch_posts": len(result.batch_ids),
                **submitted.to_metadata(),
                "workflow_id": s.workflow_id,
                "reprocess": config.reprocess,
            },
        )

    return extend_workflow_batches


def _ledger_numbers(documents: pd.DataFrame) -> Callable[[pd.DataFrame, str], dict[str, Any]]:
    """A partition's ledger rows, batches and listed documents (the run's totals stay
    on the run's output metadata and in the ``extend/*`` record)."""
    listed = documents["partition"].astype(str).value_counts() if "partition" in documents else None

    def numbers(part: pd.DataFrame, partition: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dagster/row_count": MetadataValue.int(len(part)),
            "batches": MetadataValue.int(int(part["batch_id"].dropna().nunique())),
        }
        if listed is not None:
            out["documents_listed"] = MetadataValue.int(int(listed.get(partition, 0)))
        return out

    return numbers


@dataclass(frozen=True)
class _Sent:
    """What one pass of reconcile-then-submit did."""

    result: SubmitResult
    open_subs: list[Submission]
    reconciled: ReconcileResult
    done: set[DocumentVersion]
    submitted_at: float
    rebuilt: int


def _reconcile_and_submit(
    context: AssetExecutionContext,
    s: ExtendWorkflowConfig,
    config: SubmitConfig,
    documents: pd.DataFrame,
    ledger_store: EventLogLedger,
    fence: Callable[[], None],
) -> _Sent:
    """Under the partitions' lock: rebuild a wiped ledger, reconcile open intents (their
    owners are dead: they held this lock), then send what is new; every ledger event is
    recorded as it happens."""
    partitions = list(context.partition_keys)
    ledgers = ledger_store.read(partitions)
    run_id = context.run.run_id

    def record(event: LedgerEvent) -> None:
        ledger_store.record(context.log_event, event)
        ledgers[event.partition].apply(event)

    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    with extend.get_client() as client:
        rebuilt = _rebuild_after_wipe(context, s, documents, ledger_store, ledgers, client, record)
        submitter = Submitter(
            client,
            s.workflow_id,
            record=record,
            presign=_presigner(context, s),
            clock=time.time,
            version=s.workflow_version,
            priority=s.priority,
            user_metadata=s.run_metadata,
            usage_tags=s.usage_tags,
            log=context.log,
            fence=fence,
            owner=run_id,
            reconcile_grace_seconds=s.reconcile_grace_seconds,
        )
        open_subs = [sub for ledger in ledgers.values() for sub in ledger.open_submissions()]
        # A chunk spans partitions: its batch may be recorded in one and still open in
        # another, so a batch of an open submission id must stay findable.
        open_ids = {sub.submission_id for sub in open_subs}
        known = {
            sub.batch_id
            for ledger in ledgers.values()
            for sub in ledger.submitted()
            if sub.batch_id and sub.submission_id not in open_ids
        }
        reconciled = submitter.reconcile(open_subs, known)
        done = already_done(client, ledgers, config.reprocess, context.log.info)
        pending = _pending(s, documents, partitions, done)
        context.log.info(
            f"{len(pending)} new document version(s) to submit across {len(partitions)} "
            f"partition(s); {len(done)} already submitted (reprocess={config.reprocess})."
        )
        submitted_at = min([time.time(), *(sub.recorded_at for sub in open_subs)])
        result = submitter.submit(pending)
    return _Sent(result, open_subs, reconciled, done, submitted_at, rebuilt)


def _rebuild_after_wipe(
    context: AssetExecutionContext,
    s: ExtendWorkflowConfig,
    documents: pd.DataFrame,
    ledger_store: EventLogLedger,
    ledgers: dict[str, PartitionLedger],
    client: Any,
    record: Callable[[LedgerEvent], None],
) -> int:
    """After an asset wipe hid the ledger: record once per partition what Extend holds."""
    wiped_at = last_wipe_timestamp(context.instance, context.asset_key)
    stale = {
        p
        for p, ledger in ledgers.items()
        if wiped_at and (ledger.rebuilt_after_wipe or 0) < wiped_at
    }
    if not stale or wiped_at is None:
        return 0
    mine = documents
    if "partition" in documents.columns:
        mine = documents[documents["partition"].astype(str).isin(stale)]
    since = None
    if "last_modified" in mine.columns and len(mine) and mine["last_modified"].notna().all():
        oldest = pd.Timestamp(mine["last_modified"].min())
        oldest = oldest.tz_localize("UTC") if oldest.tzinfo is None else oldest
        since = oldest.timestamp() - RECONCILE_MARGIN_SECONDS
    by_file_name: dict[str, DocumentVersion] = {}
    if {"file_name", "bucket", "key", "etag"} <= set(mine.columns):  # S3 objects, not texts
        by_file_name = {
            str(row.file_name): DocumentVersion(str(row.bucket), str(row.key), str(row.etag))
            for row in mine.itertuples(index=False)
        }
    events = rebuild_ledger(
        client,
        s.workflow_id,
        stale,
        since=since,
        # Only what the stale partitions themselves recorded since the wipe: a batch
        # crosses partitions, and another partition knowing it says nothing of these.
        known_batch_ids=_known_batches(ledgers[p] for p in stale),
        known_run_ids={r for p in stale for sub in ledgers[p].submitted() for r in sub.run_ids},
        by_file_name=by_file_name,
        clock=time.time,
        log=context.log.info,
        owner=context.run.run_id,
    )
    for partition in sorted(stale):
        for event in events.get(partition, []):
            record(event)
        ledger_store.record_rebuilt(context.log_event, partition, wiped_at)
    return sum(len(e.documents) for evs in events.values() for e in evs)


@dataclass(frozen=True)
class _Adopted:
    """Runs of an interrupted submission that reconciliation found: this run watches them."""

    documents: int
    batch_ids: tuple[str, ...]
    run_ids: tuple[str, ...]

    @classmethod
    def of(cls, open_subs: Sequence[Submission], reconciled: ReconcileResult) -> "_Adopted":
        by_key = {f"{sub.submission_id}/{sub.partition}": sub for sub in open_subs}
        found = [(event, by_key[key]) for key, event in reconciled.found.items() if key in by_key]
        return cls(
            documents=sum(len(sub.documents) for _, sub in found),
            batch_ids=tuple(sorted({e.batch_id for e, _ in found if e.batch_id})),
            run_ids=tuple(run_id for e, _ in found for run_id in e.run_ids),
        )


def _known_batches(ledgers: Iterable[PartitionLedger]) -> set[str]:
    return {sub.batch_id for ledger in ledgers for sub in ledger.submitted() if sub.batch_id}


def _text_source(s: ExtendWorkflowConfig) -> TextSource | None:
    if s.raw_text_source_name is None:
        return None
    return TextSource(s.raw_text_source_name, s.raw_text_id_column, s.raw_text_column)


def _pending(
    s: ExtendWorkflowConfig,
    documents: pd.DataFrame,
    partitions: Sequence[str],
    done: set[DocumentVersion],
) -> list[PendingDocument]:
    text_source = _text_source(s)
    if text_source is None:
        return pending_from_objects(documents, done)
    return pending_from_texts(text_source, documents, partitions, done)


def _locks(context: AssetExecutionContext, s: ExtendWorkflowConfig) -> PartitionLocks:
    """``submission_lock`` (S3 leases) when set, else the instance's own lock."""
    if not s.submission_lock:
        return submission_locks(context.instance, s.submission_lock_timeout_seconds)
    bucket, _, prefix = s.submission_lock.removeprefix("s3://").partition("/")
    source: S3DocumentSource = getattr(context.resources, s.source_resource_key)
    return S3LeaseLocks(
        source.get_client(),
        bucket,
        prefix,
        s.submission_lock_timeout_seconds,
        owner=context.run.run_id,
    )


def _presigner(
    context: AssetExecutionContext, s: ExtendWorkflowConfig
) -> Callable[[str, str], str]:
    if s.raw_text_source is not None:

        def no_files(bucket: str, key: str) -> str:
            raise ExtendAssetsConfigError("raw-text sources have no files to presign")

        return no_files
    source: S3DocumentSource = getattr(context.resources, s.source_resource_key)
    s3 = source.get_client()

    def presign(bucket: str, key: str) -> str:
        return presign_get(s3, bucket, key, s.presign_expiry_seconds)

    return presign
