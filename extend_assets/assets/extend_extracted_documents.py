"""``extend_extracted_documents``: one row per source document, a typed column per field."""

import itertools
from collections.abc import Iterator
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Output,
    asset,
)

from extend_assets import flatten
from extend_assets.assets.checks import (
    completeness_check,
    failure_rate_check,
    low_confidence_check,
    rows_per_partition,
)
from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import (
    documents_numbers,
    preview,
    report_partitions,
    table_schema,
)
from extend_assets.assets.raw_runs import raw_run_reader, raw_runs_resource_keys, reader_metadata
from extend_assets.assets.tables import (
    DOCUMENT_TALLY_COLUMNS,
    LISTING_COLUMNS_READ,
    RUNS_COLUMNS_READ,
    build_table,
    empty_inputs,
    output_value,
    takes_slices,
)
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.instance_store import WorkflowSchemaStore
from extend_assets.outputs.frames import status_counts
from extend_assets.outputs.matching import rows_without_runs
from extend_assets.outputs.memory import release_free_memory, return_free_pages
from extend_assets.outputs.stream import extractors_of, flatten_batches
from extend_assets.outputs.table_view import documents_view
from extend_assets.resources import ExtendResource

# Columns that keep their names (already plain); extracted fields get SQL-friendly ones.
DOCUMENT_FIXED_COLUMNS = (*flatten.DOCUMENT_COLUMNS, "partition_date")


def build_extracted_documents_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any], upstream_key: AssetKey
) -> AssetsDefinition:
    """``extend_extracted_documents`` and its checks."""
    checks = [
        AssetCheckSpec(
            "completeness",
            asset=keys.documents,
            description="Every listed document has exactly one row.",
        ),
        AssetCheckSpec(
            "failure_rate",
            asset=keys.documents,
            description=f"At most {s.failure_rate_threshold:.0%} of documents failed.",
        ),
        AssetCheckSpec(
            "low_confidence_fields",
            asset=keys.documents,
            description=f"Extracted fields below {s.low_confidence_threshold} confidence, counted.",
        ),
    ]
    s3_mode = s.raw_text_source_name is None

    @asset(
        key=keys.documents,
        ins={
            "runs": AssetIn(keys.runs, metadata={"columns": RUNS_COLUMNS_READ}),
            "source_documents": AssetIn(upstream_key, metadata={"columns": LISTING_COLUMNS_READ}),
        },
        kinds={"pandas"},
        check_specs=checks,
        required_resource_keys={s.extend_resource_key, *raw_runs_resource_keys(s)},
        pool=s.pool if s.tag_runs_on_extend else None,
        description="One row per source document: ids, status, review state, every extracted "
        "field as a typed column and per-field confidence.",
        **common,
    )
    def extend_extracted_documents(
        context: AssetExecutionContext, runs: pd.DataFrame, source_documents: pd.DataFrame
    ) -> Iterator[Output[Any] | AssetCheckResult]:
        release_free_memory()  # what the partition's previous step freed
        listed = source_documents if s3_mode else None
        # The workflow's columns, not the day's: an all-failed day carries no schema.
        with raw_run_reader(context, s, runs) as reader:
            store = WorkflowSchemaStore(context.instance, s.workflow_id, keys.runs)
            schema = store.merge(extractors_of(runs, reader))
            extra = rows_without_runs(runs, listed)
            batches = flatten_batches(
                runs, flatten.flatten_documents, schema, reader=reader, view=documents_view(schema)
            )
            built = build_table(
                itertools.chain(batches, [extra] if len(extra) else []),
                schema.as_json_schema(),
                fixed=DOCUMENT_FIXED_COLUMNS,
                tally_columns=DOCUMENT_TALLY_COLUMNS,
                low_confidence_threshold=s.low_confidence_threshold,
            )
        del extra
        expected = rows_per_partition(
            listed if listed is not None else runs, context.partition_keys
        )
        to_tag = _runs_to_tag(runs) if s.tag_runs_on_extend else None
        # the listing only when it is ours: a text source's asset may have another IO manager
        empty_inputs(context, s.internal_io_manager, runs, *([] if listed is None else [listed]))
        try:
            rows, tally, infos = built.tally.narrow(), built.tally, built.infos
            empty = built.slices.empty()
            context.log.info(f"{len(rows)} document row(s): {status_counts(rows['status'])}.")
            report_partitions(
                context,
                rows,
                lambda part, key: {
                    **documents_numbers(part, infos, tally.confidence(key)),
                    "preview": preview(tally.head(empty, key), infos),
                },
            )
            metadata = {
                **documents_numbers(rows, infos, tally.confidence()),
                "dagster/column_schema": table_schema(empty, infos),
                "preview": preview(tally.head(empty), infos),
                **reader_metadata(reader),
            }
            value = output_value(built, takes_slices(context, s.io_manager_key))
            return_free_pages()  # what flattening freed, before the IO manager's write
            yield Output(value, metadata=metadata)
            del value
        finally:
            built.close()
        yield completeness_check(rows, expected)
        yield failure_rate_check(rows, s.failure_rate_threshold)
        yield low_confidence_check(
            rows, s.low_confidence_threshold, lambda key: tally.confidence(key).low
        )
        if to_tag is not None:
            _tag_runs(context, s, to_tag)

    return extend_extracted_documents


def _runs_to_tag(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Each Extend run's id and partition."""
    sent = runs[runs["run_id"].notna()]
    return [(str(r), str(p)) for r, p in zip(sent["run_id"], sent["partition"], strict=True)]


def _tag_runs(
    context: AssetExecutionContext, s: ExtendWorkflowConfig, runs: list[tuple[str, str]]
) -> None:
    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    with extend.get_client() as client:
        for run_id, partition in runs:
            client.update_workflow_run(
                run_id,
                metadata={
                    "dagster_run_id": context.run.run_id,
                    "dagster_asset": context.asset_key.to_user_string(),
                    "dagster_partition": str(partition),
                },
            )
    context.log.info(f"Tagged {len(runs)} Extend run(s) with this Dagster run's id.")
