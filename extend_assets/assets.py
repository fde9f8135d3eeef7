"""The asset factory: one call wires one Extend workflow into a code location.

``build_extend_workflow_assets`` returns the partitioned assets of the flow in
``DESIGN.md`` (source documents → batches → runs → documents / line items), the
run-status sensor that joins the two halves, the jobs, a schedule for the newest
partition, and asset checks. Nothing here calls Extend or S3 at definition time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    DailyPartitionsDefinition,
    Definitions,
    JobDefinition,
    MetadataValue,
    Output,
    ScheduleDefinition,
    SensorDefinition,
    TimeWindowPartitionsDefinition,
    UnresolvedAssetJobDefinition,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from pydantic import Field

from extend_assets import flatten
from extend_assets.client import ExtendClient, WorkflowRun
from extend_assets.fetch import fetch_runs, run_ids_of_batches
from extend_assets.ledger import (
    SUBMISSION_METADATA_KEY,
    DocumentVersion,
    EventLogLedger,
    LedgerEvent,
    PartitionLedger,
)
from extend_assets.listing import PartitionSelector, Selection, list_partitions, skipped_by_reason
from extend_assets.resources import ExtendResource
from extend_assets.sensors import build_extend_run_status_sensor
from extend_assets.sources import S3DocumentSource
from extend_assets.submission import (
    METADATA_LIMIT_BYTES,
    PendingDocument,
    Submitter,
    check_metadata_size,
)
from extend_assets.tables import (
    MISSING,
    SKIPPED,
    ledger_frame,
    partition_date,
    preview,
    run_frame,
    status_counts,
    storable,
    table_schema,
)

ReviewPolicy = Literal["wait", "settle"]
Reprocess = Literal["none", "failed", "all"]
PARTITION_EXPR = {"partition_expr": "partition_date"}
SETTLED_FAILURES = {"FAILED", "REJECTED", "CANCELLED", SKIPPED, MISSING}


class SubmitConfig(Config):
    """Run config of the submission asset."""

    reprocess: Reprocess = Field(
        default="none",
        description="'none': only new or changed objects. 'failed': also resend documents "
        "whose last run FAILED. 'all': resend every listed document.",
    )


class ExtendAssetsConfigError(ValueError):
    """A factory argument that cannot work, named with its fix."""


@dataclass
class ExtendWorkflowDefinitions:
    """Everything built for one workflow; pass it to ``Definitions`` or merge several."""

    assets: list[AssetsDefinition]
    jobs: list[JobDefinition | UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition]
    sensors: list[SensorDefinition]
    keys: dict[str, AssetKey] = field(default_factory=dict)

    def to_definitions(self, resources: Mapping[str, Any] | None = None) -> Definitions:
        return Definitions(
            assets=self.assets,
            jobs=self.jobs,
            schedules=self.schedules,
            sensors=self.sensors,
            resources=dict(resources or {}),
        )


@dataclass(frozen=True)
class _Settings:
    workflow_id: str
    name: str
    bucket: str | None
    selector: PartitionSelector | None
    workflow_version: str | None
    priority: int | None
    presign_expiry_seconds: int
    run_metadata: Mapping[str, Any]
    usage_tags: tuple[str, ...]
    raw_text_id_column: str
    raw_text_column: str
    raw_text_source_name: str | None
    failure_rate_threshold: float
    low_confidence_threshold: float
    tag_runs_on_extend: bool
    fetch_workers: int
    extend_resource_key: str
    source_resource_key: str


def build_extend_workflow_assets(
    *,
    workflow_id: str,
    name: str = "extend",
    bucket: str | None = None,
    prefix_template: str = "{date}/",
    selection: Selection = "prefix",
    partitions_def: TimeWindowPartitionsDefinition | None = None,
    start_date: str = "2025-01-01",
    workflow_version: str | None = None,
    priority: int | None = None,
    presign_expiry_seconds: int = 1800,
    run_metadata: Mapping[str, Any] | None = None,
    usage_tags: Sequence[str] = (),
    raw_text_source: AssetKey | str | Sequence[str] | None = None,
    raw_text_id_column: str = "id",
    raw_text_column: str = "text",
    review_policy: ReviewPolicy = "wait",
    failure_rate_threshold: float = 0.1,
    low_confidence_threshold: float = 0.8,
    tag_runs_on_extend: bool = False,
    fetch_workers: int = 16,
    pool: str | None = "extend_api",
    io_manager_key: str = "io_manager",
    extend_resource_key: str = "extend",
    source_resource_key: str = "documents",
    sensor_interval_seconds: int = 30,
    sensor_tick_budget_seconds: float = 20.0,
    stuck_after_seconds: float = 6 * 3600,
    cancel_stuck_runs: bool = False,
) -> ExtendWorkflowDefinitions:
    """Build the assets, jobs, schedule and sensor that run ``workflow_id`` over documents.

    Documents come from ``bucket`` (objects under ``prefix_template`` with ``{date}`` the
    partition's day, or under a fixed prefix filtered by LastModified day when
    ``selection='last_modified'``), or from ``raw_text_source``: an upstream asset
    holding a DataFrame with ``raw_text_id_column`` and ``raw_text_column``.
    Asset keys are prefixed with ``name`` so several workflows fit in one location.
    """
    settings = _validate(
        workflow_id=workflow_id,
        name=name,
        bucket=bucket,
        prefix_template=prefix_template,
        selection=selection,
        workflow_version=workflow_version,
        priority=priority,
        presign_expiry_seconds=presign_expiry_seconds,
        run_metadata=run_metadata,
        usage_tags=usage_tags,
        raw_text_source=raw_text_source,
        raw_text_id_column=raw_text_id_column,
        raw_text_column=raw_text_column,
        review_policy=review_policy,
        failure_rate_threshold=failure_rate_threshold,
        low_confidence_threshold=low_confidence_threshold,
        tag_runs_on_extend=tag_runs_on_extend,
        fetch_workers=fetch_workers,
        extend_resource_key=extend_resource_key,
        source_resource_key=source_resource_key,
    )
    pdef = partitions_def or DailyPartitionsDefinition(start_date=start_date)
    prefix = [name]
    keys = {
        "source": AssetKey([*prefix, "extend_source_documents"]),
        "batches": AssetKey([*prefix, "extend_workflow_batches"]),
        "runs": AssetKey([*prefix, "extend_workflow_runs"]),
        "documents": AssetKey([*prefix, "extend_extracted_documents"]),
        "line_items": AssetKey([*prefix, "extend_extracted_line_items"]),
    }
    common: dict[str, Any] = {
        "partitions_def": pdef,
        "backfill_policy": BackfillPolicy.single_run(),
        "io_manager_key": io_manager_key,
        "metadata": PARTITION_EXPR,
        "group_name": name,
    }
    assets: list[AssetsDefinition] = []

    if raw_text_source is None:
        assets.append(_source_asset(settings, keys, common))
        upstream_key = keys["source"]
    else:
        upstream_key = _as_key(raw_text_source)
    assets.append(_batches_asset(settings, keys, common, upstream_key, pool))
    assets.append(_runs_asset(settings, keys, common, pool))
    assets.append(_documents_asset(settings, keys, common, upstream_key, pool))
    assets.append(_line_items_asset(keys, common))

    submit_selection = (
        [keys["batches"]] if raw_text_source is not None else [keys["source"], keys["batches"]]
    )
    submit_job = define_asset_job(
        f"{name}_extend_submit",
        selection=submit_selection,
        partitions_def=pdef,
        description=f"List and submit the newest documents to Extend workflow {workflow_id}.",
    )
    outputs_job = define_asset_job(
        f"{name}_extend_outputs",
        selection=[keys["runs"], keys["documents"], keys["line_items"]],
        partitions_def=pdef,
        description="Fetch settled runs and flatten their outputs into tables.",
    )
    schedule = build_schedule_from_partitioned_job(submit_job, name=f"{name}_extend_daily_schedule")

    sensor = build_extend_run_status_sensor(
        name=f"{name}_extend_run_status_sensor",
        workflow_id=workflow_id,
        batches_asset_key=keys["batches"],
        target=outputs_job,
        extend_resource_key=extend_resource_key,
        review_policy=review_policy,
        minimum_interval_seconds=sensor_interval_seconds,
        tick_budget_seconds=sensor_tick_budget_seconds,
        stuck_after_seconds=stuck_after_seconds,
        cancel_stuck=cancel_stuck_runs,
    )
    return ExtendWorkflowDefinitions(
        assets=assets,
        jobs=[submit_job, outputs_job],
        schedules=[schedule],
        sensors=[sensor],
        keys=keys,
    )


# -- validation ----------------------------------------------------------------------------


def _validate(**kw: Any) -> _Settings:
    def bad(field_name: str, problem: str, fix: str) -> ExtendAssetsConfigError:
        return ExtendAssetsConfigError(
            f"build_extend_workflow_assets({field_name}=...): {problem} {fix}"
        )

    if not kw["workflow_id"] or not str(kw["workflow_id"]).strip():
        raise bad("workflow_id", "is empty.", "Pass the id of your Extend workflow (workflow_...).")
    if not kw["name"].replace("_", "").isalnum():
        raise bad(
            "name", f"{kw['name']!r} is not a valid asset key part.", "Use letters, digits, _."
        )
    selector = None
    if kw["raw_text_source"] is None:
        if not kw["bucket"]:
            raise bad(
                "bucket",
                "is missing.",
                "Name the S3 bucket holding the documents (EXTEND_S3_BUCKET), or pass raw_text_source.",
            )
        selector = PartitionSelector(kw["prefix_template"], kw["selection"])
    priority = kw["priority"]
    if priority is not None and (not isinstance(priority, int) or not 1 <= priority <= 100):
        raise bad(
            "priority",
            f"{priority!r} is outside 1..100.",
            "Lower runs first; 50 is Extend's default.",
        )
    expiry = kw["presign_expiry_seconds"]
    if not 60 <= expiry <= 7 * 24 * 3600:
        raise bad(
            "presign_expiry_seconds",
            f"{expiry} is outside 60..604800.",
            "Extend suggests about 1800 s for batches, which may wait in a queue.",
        )
    if kw["review_policy"] not in ("wait", "settle"):
        raise bad(
            "review_policy", f"{kw['review_policy']!r} is unknown.", "Use 'wait' or 'settle'."
        )
    if not 0.0 <= kw["failure_rate_threshold"] <= 1.0:
        raise bad("failure_rate_threshold", "is outside 0..1.", "Use a fraction such as 0.1.")
    metadata = dict(kw["run_metadata"] or {})
    try:
        check_metadata_size(metadata, "the `run_metadata` argument")
    except ValueError as error:
        raise bad(
            "run_metadata", str(error), f"Keep it under {METADATA_LIMIT_BYTES} bytes."
        ) from None
    except RuntimeError as error:
        raise bad(
            "run_metadata", str(error), f"Keep it under {METADATA_LIMIT_BYTES} bytes."
        ) from None
    source = kw["raw_text_source"]
    return _Settings(
        workflow_id=str(kw["workflow_id"]).strip(),
        name=kw["name"],
        bucket=kw["bucket"],
        selector=selector,
        workflow_version=kw["workflow_version"],
        priority=priority,
        presign_expiry_seconds=expiry,
        run_metadata=metadata,
        usage_tags=tuple(kw["usage_tags"]),
        raw_text_id_column=kw["raw_text_id_column"],
        raw_text_column=kw["raw_text_column"],
        raw_text_source_name=None if source is None else _as_key(source).to_user_string(),
        failure_rate_threshold=kw["failure_rate_threshold"],
        low_confidence_threshold=kw["low_confidence_threshold"],
        tag_runs_on_extend=kw["tag_runs_on_extend"],
        fetch_workers=kw["fetch_workers"],
        extend_resource_key=kw["extend_resource_key"],
        source_resource_key=kw["source_resource_key"],
    )


def _as_key(value: AssetKey | str | Sequence[str]) -> AssetKey:
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    return AssetKey(list(value))


# -- extend_source_documents -------------------------------------------------------------------


def _source_asset(
    s: _Settings, keys: dict[str, AssetKey], common: dict[str, Any]
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


# -- extend_workflow_batches -------------------------------------------------------------------


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
    s: _Settings, frame: pd.DataFrame, partitions: Sequence[str], done: set[DocumentVersion]
) -> list[PendingDocument]:
    missing = [c for c in (s.raw_text_id_column, s.raw_text_column) if c not in frame.columns]
    if missing:
        raise ExtendAssetsConfigError(
            f"raw_text_source {s.raw_text_source_name} has no column(s) {missing}; it has "
            f"{list(frame.columns)}. Set raw_text_id_column / raw_text_column to the right names."
        )
    namespace = f"text:{s.raw_text_source_name}"
    partition_of = frame["partition"] if "partition" in frame.columns else None
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
        partition = str(partition_of.iloc[index]) if partition_of is not None else partitions[0]
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


def _batches_asset(
    s: _Settings,
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
            submitter.reconcile(open_subs, known_batches)
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
            submitted_at = _now()
            result = submitter.submit(pending)
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
                "documents_already_submitted": already,
                "batch_posts": len(result.batch_ids),
                "extend/batch_ids": MetadataValue.json(result.batch_ids),
                "extend/run_ids": MetadataValue.json(result.run_ids),
                "extend/partitions": MetadataValue.json(partitions),
                "extend/documents_submitted": result.documents_submitted,
                "extend/submitted_at": submitted_at,
                "extend/all_batch_ids": MetadataValue.json(batches_per_partition),
                "workflow_id": s.workflow_id,
                "reprocess": config.reprocess,
            },
        )

    return extend_workflow_batches


def _presigner(context: AssetExecutionContext, s: _Settings) -> Callable[[str, str], str]:
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
    s: _Settings, documents: pd.DataFrame, partitions: Sequence[str]
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
                doc = _document_of(run, sub.documents, sub.run_ids)
                if doc is not None and latest.get(doc) is sub:
                    failed.add(doc)
    return failed


def _document_of(
    run: WorkflowRun, documents: Sequence[DocumentVersion], run_ids: Sequence[str]
) -> DocumentVersion | None:
    if run.id in run_ids and len(run_ids) == len(documents):
        return documents[list(run_ids).index(run.id)]
    meta = run.metadata or {}
    if "bucket" in meta and "key" in meta:
        return DocumentVersion(str(meta["bucket"]), str(meta["key"]), str(meta.get("etag", "")))
    if "source_id" in meta and "source" in meta:
        for doc in documents:
            if doc.namespace == meta["source"] and doc.name == str(meta["source_id"]):
                return doc
    return None


# -- extend_workflow_runs ----------------------------------------------------------------------


def _runs_asset(
    s: _Settings, keys: dict[str, AssetKey], common: dict[str, Any], pool: str | None
) -> AssetsDefinition:
    @asset(
        key=keys["runs"],
        ins={"ledger": AssetIn(keys["batches"])},
        kinds={"extend", "pandas"},
        pool=pool,
        required_resource_keys={s.extend_resource_key},
        description="The full Extend WorkflowRun of every submitted document (raw JSON kept).",
        **common,
    )
    def extend_workflow_runs(
        context: AssetExecutionContext, ledger: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
        batch_ids = sorted({str(b) for b in ledger["batch_id"].dropna()})
        direct_ids = [str(r) for r in ledger["run_id"].dropna()]
        with extend.get_client() as client:
            listed_ids = run_ids_of_batches(client, batch_ids)
            run_ids = list(dict.fromkeys([*listed_ids, *direct_ids]))
            context.log.info(
                f"Fetching {len(run_ids)} run(s) from {len(batch_ids)} batch(es) and "
                f"{len(direct_ids)} direct run(s)."
            )
            runs = fetch_runs(
                client,
                run_ids,
                max_workers=s.fetch_workers,
                progress=lambda done, total: context.log.info(f"Fetched {done}/{total} runs."),
            )
        rows = _match_runs_to_ledger(ledger, runs)
        frame = run_frame(rows)
        counts = status_counts(frame["status"])
        return Output(
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "runs_fetched": len(runs),
                "status_counts": MetadataValue.json(counts),
                "missing_runs": counts.get(MISSING, 0),
            },
        )

    return extend_workflow_runs


def _match_runs_to_ledger(
    ledger: pd.DataFrame, runs: Sequence[WorkflowRun]
) -> list[dict[str, Any]]:
    """Exactly one row per ledger document: its run from its newest submission, or MISSING."""
    by_direct_id = {run.id: run for run in runs}
    by_document: dict[tuple[str, str, str, str], WorkflowRun] = {}
    for run in runs:
        meta = run.metadata or {}
        submission = str(meta.get(SUBMISSION_METADATA_KEY, ""))
        if "bucket" in meta:
            identity = (
                str(meta.get("bucket")),
                str(meta.get("key")),
                str(meta.get("etag")),
                submission,
            )
        elif "source_id" in meta:
            identity = (str(meta.get("source")), str(meta.get("source_id")), "", submission)
        else:
            continue
        by_document.setdefault(identity, run)
    rows: list[dict[str, Any]] = []
    for entry in ledger.itertuples(index=False):
        run: WorkflowRun | None = None
        if isinstance(entry.run_id, str):
            run = by_direct_id.get(entry.run_id)
        else:
            is_text = str(entry.bucket).startswith("text:")
            etag = "" if is_text else str(entry.etag)
            run = by_document.get(
                (str(entry.bucket), str(entry.key), etag, str(entry.submission_id))
            )
        rows.append(
            {
                "partition": entry.partition,
                "partition_date": partition_date(str(entry.partition)),
                "bucket": entry.bucket,
                "key": entry.key,
                "etag": entry.etag,
                "submission_id": entry.submission_id,
                "batch_id": run.batch_id if run is not None else entry.batch_id,
                "run_id": run.id if run is not None else None,
                "status": str(run.status) if run is not None else MISSING,
                "raw_json": json.dumps(run.raw, default=str) if run is not None else None,
            }
        )
    return rows


# -- extend_extracted_documents / line items ---------------------------------------------------


def _sources_and_runs(
    runs_frame: pd.DataFrame,
) -> tuple[list[dict[str, Any]], dict[str, flatten.SourceRef]]:
    raws: list[dict[str, Any]] = []
    sources: dict[str, flatten.SourceRef] = {}
    for row in runs_frame.itertuples(index=False):
        if not isinstance(row.raw_json, str):
            continue
        raw = json.loads(row.raw_json)
        raws.append(raw)
        is_text = str(row.bucket).startswith("text:")
        sources[str(row.run_id)] = flatten.SourceRef(
            bucket=None if is_text else str(row.bucket),
            key=None if is_text else str(row.key),
            etag=None if is_text else str(row.etag),
            partition=str(row.partition),
            batch_id=None if pd.isna(row.batch_id) else str(row.batch_id),
            source_id=str(row.key) if is_text else None,
        )
    return raws, sources


def _documents_asset(
    s: _Settings,
    keys: dict[str, AssetKey],
    common: dict[str, Any],
    upstream_key: AssetKey,
    pool: str | None,
) -> AssetsDefinition:
    checks = [
        AssetCheckSpec(
            "completeness",
            asset=keys["documents"],
            description="Every listed document has exactly one row.",
        ),
        AssetCheckSpec(
            "failure_rate",
            asset=keys["documents"],
            description=f"At most {s.failure_rate_threshold:.0%} of documents failed.",
        ),
        AssetCheckSpec(
            "low_confidence_fields",
            asset=keys["documents"],
            description=f"Extracted fields below {s.low_confidence_threshold} confidence, counted.",
        ),
    ]
    s3_mode = s.raw_text_source_name is None

    @asset(
        key=keys["documents"],
        ins={"runs": AssetIn(keys["runs"]), "source_documents": AssetIn(upstream_key)},
        kinds={"pandas", "duckdb"},
        check_specs=checks,
        required_resource_keys={s.extend_resource_key},
        pool=pool if s.tag_runs_on_extend else None,
        description="One row per source document: ids, status, review state, every extracted "
        "field as a typed column and per-field confidence.",
        **common,
    )
    def extend_extracted_documents(
        context: AssetExecutionContext, runs: pd.DataFrame, source_documents: pd.DataFrame
    ) -> Iterator[Output[pd.DataFrame] | AssetCheckResult]:
        listed = source_documents if s3_mode else None
        raws, sources = _sources_and_runs(runs)
        schema = _schema_of(raws)
        flat = flatten.flatten_documents(raws, sources=sources, schema=schema)
        extra = _rows_without_runs(runs, listed)
        frame = pd.concat([flat, extra], ignore_index=True) if len(extra) else flat
        frame = storable(with_partition_date(frame))
        context.log.info(f"{len(frame)} document row(s): {status_counts(frame['status'])}.")
        yield Output(frame, metadata=_documents_metadata(frame))
        yield _completeness_check(frame, len(listed) if listed is not None else len(runs))
        yield _failure_rate_check(frame, s.failure_rate_threshold)
        yield _low_confidence_check(frame, s.low_confidence_threshold)
        if s.tag_runs_on_extend:
            _tag_runs(context, s, runs)

    return extend_extracted_documents


def _schema_of(raws: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The extraction schema, read from the first run that carries one."""
    for raw in raws:
        schema = flatten.extraction_schema(raw)
        if schema:
            return schema
    return None


def with_partition_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the column the IO manager partitions on (``partition_expr``)."""
    frame = frame.copy()
    partitions = (
        frame["partition"] if "partition" in frame.columns else pd.Series([], dtype="string")
    )
    frame["partition_date"] = pd.to_datetime(partitions.astype("string"), format="%Y-%m-%d")
    return frame


def _rows_without_runs(runs: pd.DataFrame, listed: pd.DataFrame | None) -> pd.DataFrame:
    """Rows for documents Extend never ran: skipped at listing, or missing from Extend."""
    rows: list[dict[str, Any]] = []
    for row in runs.itertuples(index=False):
        if not isinstance(row.raw_json, str):
            rows.append(
                {
                    "partition": row.partition,
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "batch_id": row.batch_id,
                    "status": MISSING,
                    "failure_reason": "RUN_NOT_FOUND",
                    "failure_message": "The ledger holds this document but Extend returned no run for it.",
                }
            )
    if listed is not None and "skip_reason" in listed.columns:
        for row in listed[listed["skip_reason"].notna()].itertuples(index=False):
            rows.append(
                {
                    "partition": row.partition,
                    "bucket": row.bucket,
                    "key": row.key,
                    "etag": row.etag,
                    "status": SKIPPED,
                    "failure_reason": str(row.skip_reason).upper(),
                    "failure_message": f"Not submitted: {row.skip_reason} ({row.extension or 'no extension'}).",
                }
            )
    return pd.DataFrame(rows)


def _documents_metadata(frame: pd.DataFrame) -> dict[str, Any]:
    counts = status_counts(frame["status"]) if "status" in frame.columns else {}
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]
    mean_confidence = None
    if confidence_columns and len(frame):
        values = frame[confidence_columns].apply(pd.to_numeric, errors="coerce").stack()
        mean_confidence = float(values.mean()) if len(values) else None
    credits = (
        pd.to_numeric(frame.get("usage_credits"), errors="coerce")
        if "usage_credits" in frame
        else None
    )
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame),
        "status_counts": MetadataValue.json(counts),
        "mean_confidence": MetadataValue.float(mean_confidence)
        if mean_confidence is not None
        else None,
        "credits_used": float(credits.sum()) if credits is not None else 0.0,
        "preview": preview(frame),
    }


def _completeness_check(frame: pd.DataFrame, expected: int) -> AssetCheckResult:
    keys = (
        frame[["bucket", "key"]].astype(str).agg("/".join, axis=1)
        if len(frame)
        else pd.Series([], dtype=str)
    )
    duplicates = int(keys.duplicated().sum())
    missing = int((frame["status"] == MISSING).sum()) if len(frame) else 0
    passed = len(frame) == expected and duplicates == 0 and missing == 0
    return AssetCheckResult(
        check_name="completeness",
        passed=passed,
        metadata={
            "expected_rows": expected,
            "rows": len(frame),
            "duplicates": duplicates,
            "missing_runs": missing,
        },
    )


def _failure_rate_check(frame: pd.DataFrame, threshold: float) -> AssetCheckResult:
    total = len(frame)
    failed = int(frame["status"].isin(list(SETTLED_FAILURES)).sum()) if total else 0
    rate = failed / total if total else 0.0
    return AssetCheckResult(
        check_name="failure_rate",
        passed=rate <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "failed": failed,
            "documents": total,
            "failure_rate": rate,
            "threshold": threshold,
        },
    )


def _low_confidence_check(frame: pd.DataFrame, threshold: float) -> AssetCheckResult:
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]
    per_field: dict[str, int] = {}
    for column in confidence_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        low = int((values < threshold).sum())
        if low:
            per_field[str(column).removesuffix("__confidence")] = low
    total_low = sum(per_field.values())
    return AssetCheckResult(
        check_name="low_confidence_fields",
        passed=total_low == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "low_confidence_values": total_low,
            "by_field": MetadataValue.json(per_field),
            "threshold": threshold,
        },
    )


def _tag_runs(context: AssetExecutionContext, s: _Settings, runs: pd.DataFrame) -> None:
    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    run_ids = [str(r) for r in runs["run_id"].dropna()]
    with extend.get_client() as client:
        for run_id, partition in zip(
            run_ids, runs.loc[runs["run_id"].notna(), "partition"], strict=True
        ):
            client.update_workflow_run(
                run_id,
                metadata={
                    "dagster_run_id": context.run.run_id,
                    "dagster_asset": context.asset_key.to_user_string(),
                    "dagster_partition": str(partition),
                },
            )
    context.log.info(f"Tagged {len(run_ids)} Extend run(s) with this Dagster run's id.")


def _line_items_asset(keys: dict[str, AssetKey], common: dict[str, Any]) -> AssetsDefinition:
    @asset(
        key=keys["line_items"],
        ins={"runs": AssetIn(keys["runs"])},
        kinds={"pandas", "duckdb"},
        description="One row per element of each array-of-objects field (e.g. invoice line items).",
        **common,
    )
    def extend_extracted_line_items(
        context: AssetExecutionContext, runs: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        raws, sources = _sources_and_runs(runs)
        frame = flatten.flatten_line_items(raws, sources=sources, schema=_schema_of(raws))
        frame = storable(with_partition_date(frame))
        return Output(
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "dagster/column_schema": table_schema(frame),
                "preview": preview(frame),
            },
        )

    return extend_extracted_line_items


def _now() -> float:
    return time.time()
