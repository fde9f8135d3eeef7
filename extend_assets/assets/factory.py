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
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
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
from extend_assets.assets.storage import known_gaps, stores_ranges
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
        """A ``Definitions`` binding ``resources``; the tables' kinds follow the IO manager.

        Several workflows in one code location: pass the *same* resource objects to each
        ``to_definitions`` and ``Definitions.merge`` the results (Dagster merges a key only
        when its object is the same), or give each workflow its own keys
        (``extend_resource_key``, ``source_resource_key``, ``io_manager_key``).
        """
        resources = dict(resources or {})
        built = self._with_runs_for(resources)
        assets = built.assets
        if built.config is not None:
            for io_key, keys in io_manager_keys(built.config, built.keys).items():
                io_manager = resources.get(io_key)
                assets = _with_storage(assets, keys, io_manager)
                gaps = known_gaps(io_manager)
                if gaps:
                    warnings.warn(f"IO manager {io_key!r}: {gaps}", UserWarning, stacklevel=2)
        return Definitions(
            assets=assets,
            jobs=built.jobs,
            schedules=built.schedules,
            sensors=built.sensors,
            resources=resources,
        )

    def _with_runs_for(self, resources: Mapping[str, Any]) -> ExtendWorkflowDefinitions:
        """Rebuilt with one run per partition when ``single_partition_runs`` is unset and a
        bound IO manager stores one partition per output (see :mod:`.storage`)."""
        if self.config is None or self.config.single_partition_runs is not None:
            return self
        bound = [resources.get(key) for key in io_manager_keys(self.config, self.keys)]
        if not any(stores_ranges(io_manager) is False for io_manager in bound):
            return self
        return build_extend_workflow_assets(self.config, single_partition_runs=True)


def io_manager_keys(
    config: ExtendWorkflowConfig, keys: Mapping[str, AssetKey]
) -> dict[str, set[AssetKey]]:
    """Each IO manager key and the tables it stores."""
    internal = config.internal_io_manager
    by_key: dict[str, set[AssetKey]] = {}
    for role, key in keys.items():
        io_key = config.io_manager_key if role in ANALYST_ROLES else internal
        by_key.setdefault(io_key, set()).add(key)
    return by_key


# Roles (AssetKeys.as_dict) of the tables analysts query; the others are internal.
ANALYST_ROLES = ("documents", "line_items")


def _with_storage(
    assets: list[AssetsDefinition], keys: set[AssetKey], io_manager: Any
) -> list[AssetsDefinition]:
    """The tables' kind (and DuckDB location) as the IO manager bound to them names it."""
    kind = storage_kind(io_manager)
    database = getattr(io_manager, "database", None) if kind == "duckdb" else None
    located = isinstance(database, str) and database != ":memory:"

    def apply(spec: AssetSpec) -> AssetSpec:
        if spec.key not in keys or kind is None:
            return spec
        spec = spec.merge_attributes(kinds={kind})
        return _duckdb_location(spec, str(database)) if located else spec

    return [a.map_asset_specs(apply) for a in assets]


def _jobs(s: ExtendWorkflowConfig, keys: AssetKeys, text_key: AssetKey | None) -> tuple[Any, ...]:
    """The submit and outputs jobs, and the schedule of the newest partition."""
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
    return submit_job, outputs_job, schedule


def _sensor(s: ExtendWorkflowConfig, keys: AssetKeys, outputs_job: Any) -> SensorDefinition:
    return build_extend_run_status_sensor(
        ranged_runs=not s.single_partition_runs,
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
        max_failed_ticks=s.sensor_max_failed_ticks,
        completion=s.completion,
        webhook_landing=s.webhook_landing,
        reconcile_after_seconds=s.webhook_reconcile_after_seconds,
        event_settle_seconds=s.webhook_settle_seconds,
    )


# IO manager class name fragment -> the kind its tables show in the UI.
_STORAGE_KINDS = {
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "postgres": "postgres",
    "deltalake": "delta",
    "iceberg": "iceberg",
    "parquet": "parquet",
}


def storage_kind(io_manager: Any) -> str | None:
    """The kind of the storage behind ``io_manager`` (``duckdb`` ...), None when unknown."""
    if io_manager is None:
        return None
    name = type(io_manager).__name__.lower()
    return next((kind for fragment, kind in _STORAGE_KINDS.items() if fragment in name), None)


def _duckdb_location(spec: AssetSpec, database: str) -> AssetSpec:
    """``dagster/table_name`` (catalog.schema.table, as DuckDB names it) and ``dagster/uri``."""
    path = Path(database).resolve()
    schema, table = spec.key.path[0], spec.key.path[-1]
    return spec.merge_attributes(
        metadata={
            "dagster/table_name": f"{path.stem}.{schema}.{table}",
            "dagster/uri": f"duckdb://{path}",
        }
    )


def with_asset_attributes(
    assets: list[AssetsDefinition], config: ExtendWorkflowConfig, keys: AssetKeys
) -> list[AssetsDefinition]:
    """Owners, tags, automation condition (submission side) and freshness (tables)."""
    submission = {keys.source, keys.batches}
    tables = {keys.documents, keys.line_items}

    def apply(spec: AssetSpec) -> AssetSpec:
        if config.owners or config.tags:
            spec = spec.merge_attributes(owners=list(config.owners), tags=dict(config.tags))
        if config.automation_condition is not None and spec.key in submission:
            spec = spec.replace_attributes(automation_condition=config.automation_condition)
        if config.freshness_policy is not None and spec.key in tables:
            spec = spec.replace_attributes(freshness_policy=config.freshness_policy)
        return spec

    return [asset.map_asset_specs(apply) for asset in assets]


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
        # One run per backfill (batches span partitions), unless the IO manager stores
        # one partition per output.
        "backfill_policy": BackfillPolicy.multi_run(1)
        if s.single_partition_runs
        else BackfillPolicy.single_run(),
        "io_manager_key": s.internal_io_manager,
        "metadata": PARTITION_EXPR,
        "group_name": s.name,
    }
    analyst = {**common, "io_manager_key": s.io_manager_key}
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
            build_extracted_documents_asset(s, keys, analyst, upstream_key),
            build_extracted_line_items_asset(s, keys, analyst),
        ]
        assets = with_asset_attributes(assets, s, keys)

    submit_job, outputs_job, schedule = _jobs(s, keys, text_key)
    sensor = _sensor(s, keys, outputs_job)
    return ExtendWorkflowDefinitions(
        assets=assets,
        jobs=[submit_job, outputs_job],
        schedules=[schedule],
        sensors=[sensor],
        keys=keys.as_dict(),
        config=s,
    )
