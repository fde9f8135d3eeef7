"""``extend_workflow_batches``: the submission ledger; each document version sent once.

The asset reads the partitions' ledgers from the event log, reconciles submissions a
crash left open, sends what is new (:class:`~extend_assets.submission.submitter.Submitter`)
and records what it sent (:class:`~extend_assets.event_log.SubmissionRecord`) for the
run-status sensor.
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
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.errors import ExtendAssetsConfigError
from extend_assets.event_log import EventLogLedger, SubmissionRecord, is_live_intent
from extend_assets.resources import ExtendResource, S3DocumentSource
from extend_assets.submission.ledger import (
    DocumentVersion,
    LedgerEvent,
    PartitionLedger,
    Submission,
)
from extend_assets.submission.ledger_table import ledger_frame
from extend_assets.submission.pending import (
    Reprocess,
    TextSource,
    already_done,
    current_versions,
    pending_from_objects,
    pending_from_texts,
)
from extend_assets.submission.s3 import presign_get
from extend_assets.submission.submitter import (
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
        if from_s3
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
        sent = _reconcile_and_submit(context, s, config, documents, ledger_store)
        result = sent.result
        if result.yielded_to:
            ledger_store.wait_until_settled(
                result.yielded_to, partitions, context.log.info, context.run.run_id
            )
        # Re-read: a concurrent run may have submitted documents of these partitions.
        ledgers = ledger_store.read(partitions)
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
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "documents_listed": len(documents),
                "documents_submitted": result.documents_submitted,
                "documents_adopted": adopted.documents,
                "documents_yielded": result.documents_yielded,
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


def _reconcile_and_submit(
    context: AssetExecutionContext,
    s: ExtendWorkflowConfig,
    config: SubmitConfig,
    documents: pd.DataFrame,
    ledger_store: EventLogLedger,
) -> _Sent:
    """Reconcile open intents of finished runs, then send what is new; every ledger
    event is recorded as it happens."""
    partitions = list(context.partition_keys)
    ledgers = ledger_store.read(partitions)

    def record(event: LedgerEvent) -> None:
        ledger_store.record(context.log_event, event)
        ledgers[event.partition].apply(event)

    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    with extend.get_client() as client:
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
        )
        # A live run's fresh intent may have its POST in flight: never ours to abandon.
        open_subs = [
            sub
            for ledger in ledgers.values()
            for sub in ledger.open_submissions()
            if not is_live_intent(context.instance, sub, context.run.run_id)
        ]
        reconciled = submitter.reconcile(open_subs, _known_batches(ledgers.values()))
        done = already_done(client, ledgers, config.reprocess, context.log.info)
        pending = _pending(s, documents, partitions, done)
        context.log.info(
            f"{len(pending)} new document version(s) to submit across {len(partitions)} "
            f"partition(s); {len(done)} already submitted (reprocess={config.reprocess})."
        )
        submitted_at = min([time.time(), *(sub.recorded_at for sub in open_subs)])
        # Settled before this pass began: not competitors (their documents are in `done`).
        settled = {
            (sub.submission_id, sub.partition)
            for ledger in ledgers.values()
            for sub in ledger.submissions.values()
            if not sub.is_open
        }
        submitter.set_claims(lambda sid, parts: ledger_store.claims(sid, parts, settled))
        result = submitter.submit(pending)
    return _Sent(result, open_subs, reconciled, done, submitted_at)


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
