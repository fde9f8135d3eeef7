"""``extend_extracted_line_items``: one row per element of each array-of-objects field."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Output, asset

from extend_assets import flatten
from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import preview, report_partitions, row_numbers, table_schema
from extend_assets.assets.raw_runs import raw_run_reader, raw_runs_resource_keys, reader_metadata
from extend_assets.assets.storage import for_storage
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.instance_store import WorkflowSchemaStore
from extend_assets.outputs.columns import analyst_frame
from extend_assets.outputs.frames import storable
from extend_assets.outputs.matching import with_partition_date
from extend_assets.outputs.memory import release_free_memory
from extend_assets.outputs.stream import extractors_of, flatten_in_chunks


def build_extracted_line_items_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any]
) -> AssetsDefinition:
    """``extend_extracted_line_items``: one row per element of each array-of-objects field."""

    @asset(
        key=keys.line_items,
        ins={"runs": AssetIn(keys.runs)},
        kinds={"pandas"},
        required_resource_keys={s.extend_resource_key, *raw_runs_resource_keys(s)},
        description="One row per element of each array-of-objects field (e.g. invoice line items).",
        **common,
    )
    def extend_extracted_line_items(
        context: AssetExecutionContext, runs: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        release_free_memory()  # what the partition's previous step freed
        with raw_run_reader(context, s, runs) as reader:
            store = WorkflowSchemaStore(context.instance, s.workflow_id, keys.runs)
            schema = store.merge(extractors_of(runs, reader))
            frame = flatten_in_chunks(runs, flatten.flatten_line_items, schema, reader=reader)
        frame = storable(with_partition_date(frame))
        table, infos = analyst_frame(
            frame,
            schema.as_json_schema(),
            fixed=(*flatten.LINE_ITEM_COLUMNS, "partition_date"),
            line_items=True,
        )
        report_partitions(
            context, table, lambda part, _: {**row_numbers(part), "preview": preview(part, infos)}
        )
        return Output(
            for_storage(table),
            metadata={
                "dagster/row_count": len(table),
                "dagster/column_schema": table_schema(table, infos),
                "preview": preview(table, infos),
                **reader_metadata(reader),
            },
        )

    return extend_extracted_line_items
