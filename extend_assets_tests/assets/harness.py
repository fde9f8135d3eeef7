"""Build the pipeline's definitions against a test emulator and local S3 server."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from dagster import AssetsDefinition, DagsterInstance, Definitions

from extend_assets.assets import ExtendWorkflowDefinitions, build_extend_workflow_assets
from extend_assets.cli.runner import PipelineRunner
from extend_assets.client import API_VERSION
from extend_assets.io_manager import ExtendDuckDBIOManager
from extend_assets.resources import ExtendResource, S3DocumentSource

SAMPLE_WORKFLOW_ID = "workflow_sampleInvoices0000000"
NAME = "t"


def s3_source(s3: Any) -> S3DocumentSource:
    env = s3.env()
    return S3DocumentSource(
        endpoint_url=s3.endpoint_url,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        addressing_style="path",
    )


def resources(
    emulator: Any, s3: Any, db_path: Path, api_version: str = API_VERSION
) -> dict[str, Any]:
    return {
        "extend": ExtendResource(
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            api_version=api_version,
            requests_per_second=500,
        ),
        "documents": s3_source(s3),
        "io_manager": ExtendDuckDBIOManager(database=str(db_path)),
    }


def build(
    emulator: Any,
    s3: Any,
    db_path: Path,
    *,
    extra_assets: Iterable[AssetsDefinition] = (),
    api_version: str = API_VERSION,
    **factory_kwargs: Any,
) -> tuple[Definitions, ExtendWorkflowDefinitions]:
    factory_kwargs.setdefault("workflow_id", SAMPLE_WORKFLOW_ID)
    factory_kwargs.setdefault("start_date", "2025-01-01")
    factory_kwargs.setdefault("sensor_interval_seconds", 1)
    workflow = build_extend_workflow_assets(name=NAME, **factory_kwargs)
    defs = Definitions(
        assets=[*workflow.assets, *extra_assets],
        jobs=workflow.jobs,
        schedules=workflow.schedules,
        sensors=workflow.sensors,
        resources=resources(emulator, s3, db_path, api_version),
    )
    return defs, workflow


def build_on_stack(stack: Any, db_path: Path, **factory_kwargs: Any) -> Definitions:
    """The pipeline over a ``LocalStack``'s bucket and prefix."""
    defs, _ = build(
        stack.emulator,
        stack.s3,
        db_path,
        bucket=stack.bucket,
        prefix_template=f"{stack.prefix}{{date}}/",
        **factory_kwargs,
    )
    return defs


def runner(defs: Definitions, instance: DagsterInstance) -> PipelineRunner:
    return PipelineRunner(defs, instance, NAME)


def put_texts(
    s3_client: Any, bucket: str, keys: Iterable[str], body: str = "Invoice Number: X\n"
) -> None:
    """Upload small text objects quickly (a few threads; boto3 clients are thread-safe)."""
    keys = list(keys)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda key: s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode()), keys
            )
        )


def table(db_path: Path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(f"select * from {NAME}.{name}").fetchdf()


def metadata_value(result: Any, asset_name: str, key: str) -> Any:
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization is not None and materialization.asset_key.path[-1] == asset_name:
            value = materialization.metadata.get(key)
            return getattr(value, "value", value)
    raise KeyError(f"no materialization of {asset_name} with {key}")
