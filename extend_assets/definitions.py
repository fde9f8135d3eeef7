"""The code location ``dagster dev -m extend_assets.definitions`` loads: one workflow, configured from the environment.

Variables (all optional except the key at run time):
  EXTEND_API_KEY            Extend API key (read when a step runs, never at load time)
  EXTEND_BASE_URL           API host, e.g. the local emulator (default https://api.extend.ai)
  EXTEND_WORKFLOW_ID        workflow to run (default: the emulator's sample invoice workflow)
  EXTEND_S3_BUCKET          bucket holding the documents (default extend-documents)
  EXTEND_S3_PREFIX          prefix template with {date} (default invoices/{date}/)
  EXTEND_START_DATE         first daily partition (default 2025-01-13)
  EXTEND_DUCKDB_PATH        DuckDB file for the tables (default $DAGSTER_HOME/extend.duckdb)
  EXTEND_REQUESTS_PER_SECOND  client-side rate limit, your plan's QPS (default 10, PAYG)
  EXTEND_RATE_LIMIT_STORE   where every process shares one request schedule: postgresql://...,
                            a directory, or none (default: the instance's PostgreSQL, if any)
  EXTEND_REVIEW_POLICY      "wait" (default) for human reviews, or "settle" to build tables now
  EXTEND_SENSOR_INTERVAL_SECONDS  seconds between run-status sensor ticks (default 30)
  EXTEND_SENSOR_TICK_BUDGET_SECONDS  time one tick may spend calling Extend (default 20, max 55)
  EXTEND_COMPLETION         "polling" (default) or "webhooks" (needs EXTEND_WEBHOOK_LANDING)
  EXTEND_WEBHOOK_LANDING    the receiver's landing zone: s3://BUCKET/PREFIX or a directory
  EXTEND_WEBHOOK_RECONCILE_AFTER_SECONDS, EXTEND_WEBHOOK_SETTLE_SECONDS  (defaults 900, 120)
  EXTEND_RAW_RUNS_DIR       where raw runs are streamed (default beside the DuckDB file)
  EXTEND_RAW_RUNS_KEEP      raw-run directories kept per partition (default 2)
  EXTEND_RAW_RUNS_MAX_AGE_DAYS  raw-run directories older than this are deleted (default: kept)
  EXTEND_SUBMISSION_LOCK    s3://BUCKET/PREFIX: S3 leases for instances without PostgreSQL
  EXTEND_RECONCILE_GRACE_SECONDS  wait for Extend to list an unconfirmed batch (default 120)
  EXTEND_IO_MANAGER         your own IO manager, `package.module:attribute` (an IO manager
                            object, or a function returning one) instead of the DuckDB file
  EXTEND_INTERNAL_IO_MANAGER  the same for the internal tables (listing, batches, runs)
  EXTEND_RESOURCES          `package.module:attribute`: a dict of more resources (or a
                            function returning one), bound beside these
  EXTEND_SINGLE_PARTITION_RUNS  "true"/"false": one run per partition (unset: from the IO manager)
  AWS_ENDPOINT_URL, AWS_*   standard boto3 settings (S3 endpoint, region, credentials)
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path
from typing import Any

from dagster import Definitions, EnvVar

from extend_assets.assets import build_extend_workflow_assets
from extend_assets.errors import ExtendAssetsConfigError
from extend_assets.executor import forked_steps_executor
from extend_assets.io_manager import ExtendDuckDBIOManager
from extend_assets.resources import ExtendResource, S3DocumentSource

SAMPLE_WORKFLOW_ID = "workflow_sampleInvoices0000000"


def duckdb_path() -> str:
    explicit = os.environ.get("EXTEND_DUCKDB_PATH")
    if explicit:
        return explicit
    home = os.environ.get("DAGSTER_HOME") or ".dagster_home"
    return str(Path(home) / "extend.duckdb")


def completion_options() -> dict[str, object]:
    """The completion options set in the environment (none: the factory's defaults)."""
    options: dict[str, object] = {}
    for option, variable, kind in (
        ("completion", "EXTEND_COMPLETION", str),
        ("sensor_tick_budget_seconds", "EXTEND_SENSOR_TICK_BUDGET_SECONDS", float),
        ("webhook_landing", "EXTEND_WEBHOOK_LANDING", str),
        ("webhook_reconcile_after_seconds", "EXTEND_WEBHOOK_RECONCILE_AFTER_SECONDS", float),
        ("webhook_settle_seconds", "EXTEND_WEBHOOK_SETTLE_SECONDS", float),
        ("raw_runs_dir", "EXTEND_RAW_RUNS_DIR", str),
        ("raw_runs_keep", "EXTEND_RAW_RUNS_KEEP", int),
        ("raw_runs_max_age_days", "EXTEND_RAW_RUNS_MAX_AGE_DAYS", float),
        ("submission_lock", "EXTEND_SUBMISSION_LOCK", str),
        ("reconcile_grace_seconds", "EXTEND_RECONCILE_GRACE_SECONDS", float),
    ):
        value = os.environ.get(variable)
        if value:
            options[option] = kind(value)
    return options


def imported(variable: str) -> Any:
    """The object ``package.module:attribute`` in ``variable`` (called if a function), or None."""
    reference = os.environ.get(variable, "").strip()
    if not reference:
        return None
    module_name, _, attribute = reference.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ExtendAssetsConfigError(
            f"{variable}={reference!r} cannot be imported ({error}). Set it to "
            "package.module:attribute, importable in this code location's environment."
        ) from None
    return value() if inspect.isfunction(value) else value


def storage_options() -> dict[str, object]:
    """The IO manager options set in the environment."""
    options: dict[str, object] = {}
    if os.environ.get("EXTEND_INTERNAL_IO_MANAGER"):
        options["internal_io_manager_key"] = "internal_io_manager"
    single = os.environ.get("EXTEND_SINGLE_PARTITION_RUNS", "").strip().lower()
    if single:
        if single not in ("true", "false"):
            raise ExtendAssetsConfigError(
                f"EXTEND_SINGLE_PARTITION_RUNS={single!r}: use 'true' or 'false' (or unset it)."
            )
        options["single_partition_runs"] = single == "true"
    return options


def build_definitions() -> Definitions:
    """Definitions from the environment; builds objects only, calls nothing. No executor
    (merge in your own: ``k8s_job_executor``, ``docker_executor``...)."""
    workflow = build_extend_workflow_assets(
        name="invoices",
        workflow_id=os.environ.get("EXTEND_WORKFLOW_ID", SAMPLE_WORKFLOW_ID),
        bucket=os.environ.get("EXTEND_S3_BUCKET", "extend-documents"),
        prefix_template=os.environ.get("EXTEND_S3_PREFIX", "invoices/{date}/"),
        start_date=os.environ.get("EXTEND_START_DATE", "2025-01-13"),
        review_policy=os.environ.get("EXTEND_REVIEW_POLICY", "wait"),
        sensor_interval_seconds=int(os.environ.get("EXTEND_SENSOR_INTERVAL_SECONDS", "30")),
        **completion_options(),
        **storage_options(),
    )
    tables = imported("EXTEND_IO_MANAGER") or ExtendDuckDBIOManager(database=duckdb_path())
    internal = imported("EXTEND_INTERNAL_IO_MANAGER")
    extra = dict(imported("EXTEND_RESOURCES") or {})
    local_s3 = bool(os.environ.get("AWS_ENDPOINT_URL"))
    return workflow.to_definitions(
        resources={
            "extend": ExtendResource(
                api_key=EnvVar("EXTEND_API_KEY"),
                requests_per_second=float(os.environ.get("EXTEND_REQUESTS_PER_SECOND", "10")),
            ),
            "documents": S3DocumentSource(addressing_style="path" if local_s3 else "auto"),
            "io_manager": tables,
            **({"internal_io_manager": internal} if internal is not None else {}),
            **extra,
        }
    )


#: This location's steps are forked from one process per run (see :mod:`extend_assets.executor`).
defs = Definitions.merge(build_definitions(), Definitions(executor=forked_steps_executor()))
