"""The asset factory: one call wires one Extend workflow into a code location.

``build_extend_workflow_assets`` returns the partitioned assets of the flow in
``DESIGN.md`` (source documents → batches → runs → documents / line items), the
run-status sensor that joins the two halves, the jobs, a schedule for the newest
partition, and asset checks. Nothing here calls Extend or S3 at definition time.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    JobDefinition,
    ScheduleDefinition,
    SensorDefinition,
    TimeWindowPartitionsDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._utils.warnings import BetaWarning

from extend_assets.listing import Selection
from extend_assets.output_assets import documents_asset, line_items_asset, runs_asset
from extend_assets.sensors import build_extend_run_status_sensor
from extend_assets.settings import PARTITION_EXPR, ReviewPolicy, as_asset_key, validate_settings
from extend_assets.submit_assets import batches_asset, source_asset


@dataclass
class ExtendWorkflowDefinitions:
    """Everything built for one workflow; pass it to ``Definitions`` or merge several."""

    assets: list[AssetsDefinition]
    jobs: list[JobDefinition | UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition | Any]
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
    settings = validate_settings(
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

    # BackfillPolicy is marked beta in Dagster 1.13; we rely on it on purpose (one run
    # per backfill, so batches span partitions), so its warning is noise for users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        if raw_text_source is None:
            assets.append(source_asset(settings, keys, common))
            upstream_key = keys["source"]
        else:
            upstream_key = as_asset_key(raw_text_source)
        assets.append(batches_asset(settings, keys, common, upstream_key, pool))
        assets.append(runs_asset(settings, keys, common, pool))
        assets.append(documents_asset(settings, keys, common, upstream_key, pool))
        assets.append(line_items_asset(keys, common))

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
