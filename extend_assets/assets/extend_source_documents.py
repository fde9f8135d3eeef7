"""``extend_source_documents``: one row per S3 object of each partition, skips explained."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetsDefinition, MetadataValue, Output, asset

from extend_assets.assets.keys import AssetKeys
from extend_assets.assets.metadata import report_partitions
from extend_assets.assets.storage import for_storage
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.resources import S3DocumentSource
from extend_assets.submission.listing import list_partitions, skipped_by_reason


def build_source_documents_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any]
) -> AssetsDefinition:
    """``extend_source_documents``: the S3 objects of each partition, listed."""
    assert s.selector is not None and s.bucket is not None
    selector, bucket = s.selector, s.bucket

    @asset(
        key=keys.source,
        kinds={"s3", "pandas"},
        required_resource_keys={s.source_resource_key},
        description=f"Objects of s3://{bucket}/{selector.prefix_template} per partition, "
        "with the reason any of them is skipped.",
        **common,
    )
    def extend_source_documents(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        source: S3DocumentSource = getattr(context.resources, s.source_resource_key)
        partitions = context.partition_keys
        frame = list_partitions(source.get_client(), bucket, selector, partitions)
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
        report_partitions(context, frame, lambda part, _: _listing_numbers(part))
        return Output(
            for_storage(frame),
            metadata={
                **_listing_numbers(frame),
                "partitions": MetadataValue.json(list(partitions)),
            },
        )

    return extend_source_documents


def _listing_numbers(frame: pd.DataFrame) -> dict[str, Any]:
    listed = len(frame)
    skipped = skipped_by_reason(frame)
    return {
        "dagster/row_count": MetadataValue.int(listed),
        "documents_listed": MetadataValue.int(listed),
        "documents_to_submit": MetadataValue.int(listed - sum(skipped.values())),
        "skipped_by_reason": MetadataValue.json(skipped),
        "bytes": MetadataValue.int(int(frame["size"].sum()) if listed else 0),
    }
