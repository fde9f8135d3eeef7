"""The asset factory: one call wires one Extend workflow into a code location.

``build_extend_workflow_assets`` returns the partitioned assets of the flow in
``DESIGN.md`` (source documents → batches → runs → documents / line items), the
run-status sensor that joins the two halves, the jobs, a schedule for the newest
partition, and asset checks. Nothing here calls Extend or S3 at definition time.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    DailyPartitionsDefinition,
    Definitions,
    ScheduleDefinition,
    SensorDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from extend_assets.assets.extend_extracted_documents import build_extracted_documents_asset
from extend_assets.assets.extend_extracted_line_items import build_extracted_line_items_asset
from extend_assets.assets.extend_source_documents import build_source_documents_asset
from extend_assets.assets.extend_workflow_batches import build_workflow_batches_asset
from extend_assets.assets.extend_workflow_runs import build_workflow_runs_asset
from extend_assets.assets.keys import AssetKeys
from extend_assets.config import PARTITION_EXPR, ExtendWorkflowConfig
from extend_assets.sensor_builder import build_extend_run_status_sensor


@dataclass
class ExtendWorkflowDefinitions:
    """Everything built for one workflow; pass it to ``Definitions`` or merge several."""

    assets: list[AssetsDefinition]
    jobs: list[Any]
    """Asset jobs (``define_asset_job`` results, resolved when the location loads)."""
    schedules: list[ScheduleDefinition | Any]
    sensors: list[SensorDefinition]
    keys: dict[str, AssetKey] = field(default_factory=dict)
    config: ExtendWorkflowConfig | None = None

    def to_definitions(self, resources: Mapping[str, Any] | None = None) -> Definitions:
        return Definitions(
            assets=self.assets,
            jobs=self.jobs,
            schedules=self.schedules,
            sensors=self.sensors,
            resources=dict(resources or {}),
        )


def build_extend_workflow_assets(
    config: ExtendWorkflowConfig | None = None, /, **options: Any
) -> ExtendWorkflowDefinitions:
    """Build the assets, jobs, schedule and sensor that run one workflow over documents.

    Pass an :class:`~extend_assets.config.ExtendWorkflowConfig`, or its options as
    keyword arguments (``workflow_id=..., bucket=...``). Documents come from ``bucket``
    (objects under ``prefix_template`` with ``{date}`` the partition's day, or under a
    fixed prefix filtered by LastModified day when ``selection='last_modified'``), or
    from ``raw_text_source``: an upstream asset holding a DataFrame with
    ``raw_text_id_column`` and ``raw_text_column``. Asset keys are prefixed with
    ``name`` so several workflows fit in one location.
    """
    if config is None:
        config = ExtendWorkflowConfig.build(**options)
    elif options:
        config = ExtendWorkflowConfig.build(**{**dict(config), **options})
    s = config
    pdef = s.partitions_def or DailyPartitionsDefinition(start_date=s.start_date)
    keys = AssetKeys.for_workflow(s.name)
    common: dict[str, Any] = {
        "partitions_def": pdef,
        "backfill_policy": BackfillPolicy.single_run(),
        "io_manager_key": s.io_manager_key,
        "metadata": PARTITION_EXPR,
        "group_name": s.name,
    }
    text_key = s.raw_text_source_key
    upstream_key = keys.source if text_key is None else text_key
    # BackfillPolicy is marked beta in Dagster 1.13; we rely on it on purpose (one run
    # per backfill, so batches span partitions), so its warning is noise for users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        assets = [
            *([build_source_documents_asset(s, keys, common)] if text_key is None else []),
            build_workflow_batches_asset(s, keys, common, upstream_key),
            build_workflow_runs_asset(s, keys, common),
            build_extracted_documents_asset(s, keys, common, upstream_key),
            build_extracted_line_items_asset(s, keys, common),
        ]

    submit_job = define_asset_job(
        f"{s.name}_extend_submit",
        selection=[keys.batches] if text_key is not None else [keys.source, keys.batches],
        description=f"List and submit the newest documents to Extend workflow {s.workflow_id}.",
    )
    outputs_job = define_asset_job(
        f"{s.name}_extend_outputs",
        selection=[keys.runs, keys.documents, keys.line_items],
        description="Fetch settled runs and flatten their outputs into tables.",
    )
    schedule = build_schedule_from_partitioned_job(
        submit_job, name=f"{s.name}_extend_daily_schedule"
    )
    sensor = build_extend_run_status_sensor(
        name=f"{s.name}_extend_run_status_sensor",
        workflow_id=s.workflow_id,
        batches_asset_key=keys.batches,
        target=outputs_job,
        extend_resource_key=s.extend_resource_key,
        review_policy=s.review_policy,
        minimum_interval_seconds=s.sensor_interval_seconds,
        tick_budget_seconds=s.sensor_tick_budget_seconds,
        stuck_after_seconds=s.stuck_after_seconds,
        cancel_stuck=s.cancel_stuck_runs,
        completion=s.completion,
        webhook_landing=s.webhook_landing,
        reconcile_after_seconds=s.webhook_reconcile_after_seconds,
        event_settle_seconds=s.webhook_settle_seconds,
    )
    return ExtendWorkflowDefinitions(
        assets=assets,
        jobs=[submit_job, outputs_job],
        schedules=[schedule],
        sensors=[sensor],
        keys=keys.as_dict(),
        config=s,
    )
