"""``extend_extracted_line_items``: one row per element of each array-of-objects field."""

from collections.abc import Iterator
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Output, asset

from extend_assets import flatten
from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import preview, report_partitions, row_numbers, table_schema
from extend_assets.assets.raw_runs import raw_run_reader, raw_runs_resource_keys, reader_metadata
from extend_assets.assets.tables import (
    LINE_ITEM_TALLY_COLUMNS,
    RUNS_COLUMNS_READ,
    build_table,
    empty_inputs,
    output_value,
    takes_slices,
)
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.instance_store import WorkflowSchemaStore
from extend_assets.outputs.memory import release_free_memory, return_free_pages
from extend_assets.outputs.stream import extractors_of, flatten_batches
from extend_assets.outputs.table_view import line_items_view


def build_extracted_line_items_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any]
) -> AssetsDefinition:
    """``extend_extracted_line_items``: one row per element of each array-of-objects field."""

    @asset(
        key=keys.line_items,
        ins={"runs": AssetIn(keys.runs, metadata={"columns": RUNS_COLUMNS_READ})},
        kinds={"pandas"},
        required_resource_keys={s.extend_resource_key, *raw_runs_resource_keys(s)},
        description="One row per element of each array-of-objects field (e.g. invoice line items).",
        **common,
    )
    def extend_extracted_line_items(
        context: AssetExecutionContext, runs: pd.DataFrame
    ) -> Iterator[Output[Any]]:
        release_free_memory()  # what the partition's previous step freed
        with raw_run_reader(context, s, runs) as reader:
            store = WorkflowSchemaStore(context.instance, s.workflow_id, keys.runs)
            schema = store.merge(extractors_of(runs, reader))
            built = build_table(
                flatten_batches(
                    runs, flatten.flatten_line_items, schema, reader=reader, view=line_items_view
                ),
                schema.as_json_schema(),
                fixed=(*flatten.LINE_ITEM_COLUMNS, "partition_date"),
                line_items=True,
                tally_columns=LINE_ITEM_TALLY_COLUMNS,
            )
        empty_inputs(context, s.internal_io_manager, runs)
        try:
            rows, tally, infos = built.tally.narrow(), built.tally, built.infos
            empty = built.slices.empty()
            report_partitions(
                context,
                rows,
                lambda part, key: {
                    **row_numbers(part),
                    "preview": preview(tally.head(empty, key), infos),
                },
            )
            metadata = {
                "dagster/row_count": len(rows),
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

    return extend_extracted_line_items
