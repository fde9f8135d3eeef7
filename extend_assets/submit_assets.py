"""The submission half: list a partition's objects, then submit them exactly once."""

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
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

from extend_assets.client import ExtendClient
from extend_assets.ledger import (
    DocumentVersion,
    EventLogLedger,
    LedgerEvent,
    PartitionLedger,
)
from extend_assets.listing import list_partitions, skipped_by_reason
from extend_assets.matching import document_of_run
from extend_assets.resources import ExtendResource
from extend_assets.settings import AssetSettings, ExtendAssetsConfigError, Reprocess
from extend_assets.sources import S3DocumentSource
from extend_assets.submission import (
    PendingDocument,
    Submitter,
)
from extend_assets.tables import (
    ledger_frame,
)


class SubmitConfig(Config):
    """Run config of the submission asset."""

    reprocess: Reprocess = Field(
        default="none",
        description="'none': only new or changed objects. 'failed': also resend documents "
        "whose last run FAILED. 'all': resend every listed document.",
    )


def source_asset(
    s: AssetSettings, keys: dict[str, AssetKey], common: dict[str, Any]
) -> AssetsDefinition:
    assert s.selector is not None and s.bucket is not None
    selector, bucket = s.selector, s.bucket

    @asset(
        key=keys["source"],
        kinds={"s3", "pandas"},
        required_resource_keys={s.source_resource_key},
        description=f"Objects of s3://{bucket}/{selector.prefix_template} per partition, "
        "with the reason any of them is skipped.",
        **common,
    )
    def extend_source_documents(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        source: S3DocumentSource = getattr(context.resources, s.source_resource_key)
        partitions = context.partition_keys
        frame = list_partitions(source, bucket, selector, partitions)
        skipped = skipped_by_reason(frame)
        listed = len(frame)
        context.log.info(
            f"Listed {listed} object(s) in s3://{bucket} for {len(partitions)} partition(s) "
            f"({partitions[0]}..{partitions[-1]}); skipped {sum(skipped.values())}: {skipped or 'none'}."
        )
        if listed == 0:
            context.log.warning(
                f"No objects under s3://{bucket}/{selector.prefix_for(partitions[0])} "
                f"(and {len(partitions) - 1} more partition(s)): nothing to submit."
            )
        return Output(
            frame,
            metadata={
                "dagster/row_count": listed,
                "documents_listed": listed,
                "documents_to_submit": listed - sum(skipped.values()),
                "skipped_by_reason": MetadataValue.json(skipped),
                "bytes": int(frame["size"].sum()) if listed else 0,
                "partitions": MetadataValue.json(list(partitions)),
            },
        )

    return extend_source_documents


def _pending_from_source(frame: pd.DataFrame, done: set[DocumentVersion]) -> list[PendingDocument]:
    pending: list[PendingDocument] = []
    for row in frame.itertuples(index=False):
        if isinstance(row.skip_reason, str):
            continue
        version = DocumentVersion(str(row.bucket), str(row.key), str(row.etag))
        if version in done:
            continue
        pending.append(
            PendingDocument(
                version=version,
                partition=str(row.partition),
                file_name=str(row.file_name),
                metadata={
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "partition": row.partition,
                },
                bucket=str(row.bucket),
                key=str(row.key),
            )
        )
    return pending


def _pending_from_texts(
    s: AssetSettings, frame: pd.DataFrame, partitions: Sequence[str], done: set[DocumentVersion]
) -> list[PendingDocument]:
    missing = [c for c in (s.raw_text_id_column, s.raw_text_column) if c not in frame.columns]
    if missing:
        raise ExtendAssetsConfigError(
            f"raw_text_source {s.raw_text_source_name} has no column(s) {missing}; it has "
            f"{list(frame.columns)}. Set raw_text_id_column / raw_text_column to the right names."
        )
    namespace = f"text:{s.raw_text_source_name}"
    partition_of = _text_partitions(frame, partitions, s.raw_text_source_name or "")
    pending: list[PendingDocument] = []
    for index, (source_id, text) in enumerate(
        zip(frame[s.raw_text_id_column], frame[s.raw_text_column], strict=True)
    ):
        if text is None or (isinstance(text, float) and pd.isna(text)):
            continue
        body = str(text)
        digest = hashlib.sha256(body.encode()).hexdigest()[:32]
        version = DocumentVersion(namespace, str(source_id), digest)
        if version in done:
            continue
        partition = partition_of[index]
        pending.append(
            PendingDocument(
                version=version,
                partition=partition,
                file_name=f"{source_id}.txt",
                metadata={"source_id": str(source_id), "partition": partition, "source": namespace},
                raw_text=body,
            )
        )
    return pending


def _text_partitions(frame: pd.DataFrame, partitions: Sequence[str], source_name: str) -> list[str]:
    """Each text's partition: its ``partition`` column, else its ``partition_date``, else the run's."""
    if "partition" in frame.columns:
        return [str(p) for p in frame["partition"]]
    if "partition_date" in frame.columns:
        return [pd.Timestamp(d).strftime("%Y-%m-%d") for d in frame["partition_date"]]
    if len(partitions) == 1:
        return [partitions[0]] * len(frame)
    raise ExtendAssetsConfigError(
        f"raw_text_source {source_name} spans {len(partitions)} partitions but has neither a "
        "'partition' nor a 'partition_date' column to tell which text belongs where. Add one."
    )


def batches_asset(
    s: AssetSettings,
    keys: dict[str, AssetKey],
    common: dict[str, Any],
    upstream_key: AssetKey,
    pool: str | None,
) -> AssetsDefinition:
    @asset(
        key=keys["batches"],
        ins={"documents": AssetIn(upstream_key)},
        kinds={"extend", "s3"} if s.raw_text_source_name is None else {"extend"},
        pool=pool,
        required_resource_keys={s.extend_resource_key, s.source_resource_key}
        if s.raw_text_source_name is None
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
        ledgers = ledger_store.read(partitions)

        def record(event: LedgerEvent) -> None:
            context.log_event(ledger_store.observation(event))
            ledgers[event.partition].apply(event)

        extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
        presign = _presigner(context, s)
        with extend.get_client() as client:
            submitter = Submitter(
                client,
                s.workflow_id,
                record=record,
                presign=presign,
                clock=_now,
                version=s.workflow_version,
                priority=s.priority,
                user_metadata=s.run_metadata,
                usage_tags=s.usage_tags,
                log=context.log,
            )
            open_subs = [sub for ledger in ledgers.values() for sub in ledger.open_submissions()]
            known_batches = {
                sub.batch_id
                for ledger in ledgers.values()
                for sub in ledger.submitted()
                if sub.batch_id
            }
            reconciled = submitter.reconcile(open_subs, known_batches)
            # Runs adopted from an interrupted submission are this run's to watch too.
            documents_of = {f"{sub.submission_id}/{sub.partition}": sub for sub in open_subs}
            adopted = [
                (event, len(documents_of[key].documents))
                for key, event in reconciled.found.items()
                if key in documents_of
            ]
            done = _already_done(client, ledgers, config.reprocess, context)
            if s.raw_text_source_name is None:
                pending = _pending_from_source(documents, done)
            else:
                pending = _pending_from_texts(s, documents, partitions, done)
            listed = len(documents)
            already = len(done)
            context.log.info(
                f"{len(pending)} new document version(s) to submit across {len(partitions)} "
                f"partition(s); {already} already submitted (reprocess={config.reprocess})."
            )
            submitted_at = min([_now(), *(sub.recorded_at for sub in open_subs)])
            result = submitter.submit(pending)
        adopted_count = sum(count for _, count in adopted)
        adopted_batches = sorted({e.batch_id for e, _ in adopted if e.batch_id})
        adopted_runs = [run_id for e, _ in adopted for run_id in e.run_ids]
        current = _current_versions(s, documents, partitions)
        frame = ledger_frame((ledgers[p] for p in partitions), keep=current)
        batches_per_partition = {
            p: sorted({sub.batch_id for sub in ledgers[p].submitted() if sub.batch_id})
            for p in partitions
        }
        return Output(
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "documents_listed": listed,
                "documents_submitted": result.documents_submitted,
                "documents_adopted": adopted_count,
                "documents_already_submitted": already,
                "batch_posts": len(result.batch_ids),
                "extend/batch_ids": MetadataValue.json(
                    sorted(set(result.batch_ids) | set(adopted_batches))
                ),
                "extend/run_ids": MetadataValue.json([*result.run_ids, *adopted_runs]),
                "extend/partitions": MetadataValue.json(partitions),
                "extend/documents_submitted": result.documents_submitted + adopted_count,
                "extend/submitted_at": submitted_at,
                "extend/all_batch_ids": MetadataValue.json(batches_per_partition),
                "workflow_id": s.workflow_id,
                "reprocess": config.reprocess,
            },
        )

    return extend_workflow_batches


def _presigner(context: AssetExecutionContext, s: AssetSettings) -> Callable[[str, str], str]:
    if s.raw_text_source_name is not None:

        def no_files(bucket: str, key: str) -> str:
            raise ExtendAssetsConfigError("raw-text sources have no files to presign")

        return no_files
    source: S3DocumentSource = getattr(context.resources, s.source_resource_key)
    s3 = source.get_client()

    def presign(bucket: str, key: str) -> str:
        return source.presign_get(s3, bucket, key, s.presign_expiry_seconds)

    return presign


def _current_versions(
    s: AssetSettings, documents: pd.DataFrame, partitions: Sequence[str]
) -> set[DocumentVersion]:
    """The document versions listed now: the ledger table shows only these."""
    if s.raw_text_source_name is None:
        return {
            DocumentVersion(str(b), str(k), str(e))
            for b, k, e in zip(
                documents["bucket"], documents["key"], documents["etag"], strict=True
            )
        }
    return {doc.version for doc in _pending_from_texts(s, documents, partitions, set())}


def _already_done(
    client: ExtendClient,
    ledgers: Mapping[str, PartitionLedger],
    reprocess: Reprocess,
    context: AssetExecutionContext,
) -> set[DocumentVersion]:
    """Document versions not to send again, honouring the reprocess option."""
    if reprocess == "all":
        return set()
    done: set[DocumentVersion] = set()
    for ledger in ledgers.values():
        done.update(ledger.latest_submission_by_document())
    if reprocess == "failed":
        failed = _failed_documents(client, ledgers)
        context.log.info(f"Reprocessing {len(failed)} document(s) whose last run FAILED.")
        done -= failed
    return done


def _failed_documents(
    client: ExtendClient, ledgers: Mapping[str, PartitionLedger]
) -> set[DocumentVersion]:
    failed: set[DocumentVersion] = set()
    for ledger in ledgers.values():
        latest = ledger.latest_submission_by_document()
        by_submission = {sub.submission_id: sub for sub in latest.values()}
        for sub in by_submission.values():
            run_ids: list[str] = []
            if sub.batch_id:
                run_ids = [
                    r.id for r in client.list_workflow_runs(batch_id=sub.batch_id, status="FAILED")
                ]
            elif sub.run_ids:
                run_ids = list(sub.run_ids)
            for run_id in run_ids:
                run = client.get_workflow_run(run_id)
                if str(run.status) != "FAILED":
                    continue
                doc = document_of_run(run, sub.documents, sub.run_ids)
                if doc is not None and latest.get(doc) is sub:
                    failed.add(doc)
    return failed


def _now() -> float:
    return time.time()
