"""``extend_workflow_runs``: the full Extend WorkflowRun of every document the ledger sent.

Runs are streamed: taken from landed webhook events (``completion="webhooks"``) or
fetched with GET, chunk by chunk, their raw JSON appended to gzip JSONL files (see
:mod:`extend_assets.outputs.stream`); the table keeps ids, status and each run's file
URI and line, never the JSON itself.
"""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, MetadataValue, Output, asset

from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import report_partitions, row_numbers
from extend_assets.assets.raw_runs import (
    raw_runs_relative,
    raw_runs_resource_keys,
    raw_runs_root,
    raw_s3_client,
)
from extend_assets.assets.storage import for_storage
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.instance_store import WorkflowSchemaStore, schema_metadata
from extend_assets.outputs.frames import MISSING, status_counts
from extend_assets.outputs.memory import release_free_memory
from extend_assets.outputs.raw_files import RawRunWriter
from extend_assets.outputs.raw_store import (
    expire_directories,
    open_directory,
    prune_older_directories,
)
from extend_assets.outputs.stream import LedgerMatcher, RunStream, listed_statuses
from extend_assets.resources import ExtendResource


def build_workflow_runs_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any]
) -> AssetsDefinition:
    """``extend_workflow_runs``: every run of the partition's ledger, streamed to files."""

    # Long: the decorated step is a closure over the config (the factory pattern); its
    # steps are the stream's (outputs/stream.py), only wiring and reporting stay here.

    @asset(
        key=keys.runs,
        ins={"ledger": AssetIn(keys.batches)},
        kinds={"extend", "pandas"},
        pool=s.pool,
        required_resource_keys={s.extend_resource_key, *raw_runs_resource_keys(s)},
        description="Every submitted document's Extend run: ids, status and the URI of its "
        "raw WorkflowRun JSON (gzip JSONL files).",
        **common,
    )
    def extend_workflow_runs(
        context: AssetExecutionContext, ledger: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        release_free_memory()  # what the partition's previous step freed
        extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
        batch_ids = sorted({str(b) for b in ledger["batch_id"].dropna()})
        direct_ids = [str(r) for r in ledger["run_id"].dropna()]
        root = raw_runs_root(s, context.instance)
        s3_client = raw_s3_client(context, s) if root.is_s3 else None
        directory = open_directory(root, raw_runs_relative(context, s), s3_client)
        matcher = LedgerMatcher(ledger)
        with RawRunWriter(directory, s.runs_chunk_size) as writer, extend.get_client() as client:
            stream = RunStream(matcher, writer)
            wanted: dict[str, str | None] = listed_statuses(
                client, batch_ids, max_workers=s.fetch_workers
            )
            for run_id in direct_ids:
                wanted.setdefault(run_id, None)
            context.log.info(
                f"{len(wanted)} run(s) in {len(batch_ids)} batch(es) and {len(direct_ids)} "
                f"direct run(s); completion: {s.completion}."
            )
            if s.completion == "webhooks" and s.webhook_landing:
                from extend_assets.webhooks import open_landing_zone

                zone = open_landing_zone(s.webhook_landing)
                events = zone.iter_runs_for(runs=direct_ids, batches=batch_ids)
                stream.take_events(events, wanted, s.runs_chunk_size)
                context.log.info(
                    f"{stream.counts.from_events} run(s) taken from landed events; "
                    f"{len(wanted) - len(stream.done)} left to fetch."
                )
            stream.fetch_gaps(
                client,
                wanted,
                chunk_size=s.runs_chunk_size,
                max_workers=s.fetch_workers,
                progress=lambda done, total: context.log.info(f"Fetched {done}/{total} runs."),
            )
            stream.save_extractors()
            del wanted  # a run id per document: not needed past here
        # The workflow's schema union learns this partition's extractors now, so the
        # tables below read it without a pass over every run.
        schema = WorkflowSchemaStore(context.instance, s.workflow_id, keys.runs).merge(
            stream.extractors
        )
        pruned = prune_older_directories(directory, s.raw_runs_keep)
        if pruned:
            context.log.info(
                f"Deleted {len(pruned)} older raw-run director{'y' if len(pruned) == 1 else 'ies'}"
                f" of this partition (raw_runs_keep={s.raw_runs_keep})."
            )
        if s.raw_runs_max_age_days is not None:
            expired = expire_directories(
                root, s.name, s.raw_runs_max_age_days, keep=directory, s3_client=s3_client
            )
            if expired:
                context.log.info(
                    f"Deleted {len(expired)} raw-run director{'y' if len(expired) == 1 else 'ies'}"
                    f" older than {s.raw_runs_max_age_days:g} day(s) (raw_runs_max_age_days)."
                )
        counts = stream.counts
        context.log.info(
            f"Runs from landed events: {counts.from_events}; fetched by GET: {counts.fetched}; "
            f"{len(writer.files)} raw file(s) under {directory.uri}."
        )
        frame = matcher.frame()
        del matcher, stream, ledger  # the frame holds what the table needs
        statuses = status_counts(frame["status"])
        report_partitions(context, frame, lambda part, _: _run_numbers(part))
        return Output(
            for_storage(frame),
            metadata={
                "dagster/row_count": len(frame),
                "runs_fetched": counts.fetched,
                "runs_from_events": counts.from_events,
                "runs_fetched_by_get": counts.fetched,
                "gets_asked_twice": counts.retried,
                "raw_files": len(writer.files),
                "raw_runs_uri": MetadataValue.url(directory.uri),
                "completion": s.completion,
                "status_counts": MetadataValue.json(statuses),
                "missing_runs": statuses.get(MISSING, 0),
                **schema_metadata(schema),
            },
        )

    return extend_workflow_runs


def _run_numbers(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        **row_numbers(frame),
        "missing_runs": MetadataValue.int(status_counts(frame["status"]).get(MISSING, 0)),
    }
