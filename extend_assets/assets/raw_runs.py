"""The raw runs of a workflow's steps: where they go (``raw_runs_dir``, local or S3),
with which S3 client, and how the tables fetch a missing file's runs again.

The S3 client is the ``S3DocumentSource`` resource's (``source_resource_key``: its
endpoint, region and credentials), as the documents themselves are read; the engine
(:mod:`extend_assets.outputs.raw_store`) takes it as a plain boto3 client.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext

from extend_assets.config import ExtendWorkflowConfig
from extend_assets.outputs.raw_reader import RawRunReader
from extend_assets.outputs.raw_store import RawRoot, parse_raw_root
from extend_assets.outputs.refetch import RunRefetcher
from extend_assets.resources import ExtendResource

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def raw_runs_root(s: ExtendWorkflowConfig, instance: Any) -> RawRoot:
    """``raw_runs_dir``, else beside the DuckDB file (EXTEND_DUCKDB_PATH), else DAGSTER_HOME."""
    if s.raw_runs_dir:
        return parse_raw_root(s.raw_runs_dir)
    database = os.environ.get("EXTEND_DUCKDB_PATH")
    if database and database != ":memory:":
        return parse_raw_root(
            os.path.join(os.path.dirname(os.path.abspath(database)), "extend_raw_runs")
        )
    home = os.environ.get("DAGSTER_HOME") or instance.storage_directory()
    return parse_raw_root(os.path.join(home, "extend_raw_runs"))


def raw_runs_on_s3(s: ExtendWorkflowConfig) -> bool:
    return bool(s.raw_runs_dir and parse_raw_root(s.raw_runs_dir).is_s3)


def raw_runs_resource_keys(s: ExtendWorkflowConfig) -> set[str]:
    """The resources the raw-run steps need beyond Extend: the S3 source, for s3://."""
    return {s.source_resource_key} if raw_runs_on_s3(s) else set()


def raw_runs_relative(context: AssetExecutionContext, s: ExtendWorkflowConfig) -> str:
    """One directory per workflow, partition (or range) and Dagster run."""
    if context.has_partition_key_range and not context.has_partition_key:
        window = context.partition_key_range
        partition = f"{window.start}..{window.end}"
    else:
        partition = context.partition_key
    return f"{s.name}/{_UNSAFE.sub('_', partition)}/{context.run.run_id}"


def raw_s3_client(context: AssetExecutionContext, s: ExtendWorkflowConfig) -> Any:
    """The source resource's S3 client; boto3's default one if it is not bound here."""
    source = getattr(context.resources, s.source_resource_key, None)
    if source is not None and hasattr(source, "get_client"):
        return source.get_client()
    import boto3

    return boto3.client("s3")


@contextmanager
def raw_run_reader(
    context: AssetExecutionContext, s: ExtendWorkflowConfig, runs: pd.DataFrame
) -> Iterator[RawRunReader]:
    """A reader of the runs table's raw files; a missing file's runs come from the
    landing zone (webhooks) or a GET. Logs what it had to fetch again."""
    needs_s3 = raw_runs_on_s3(s) or any_on_s3(runs)
    s3_client = raw_s3_client(context, s) if needs_s3 else None
    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    with extend.get_client() as client:
        events = None
        if s.completion == "webhooks" and s.webhook_landing:
            from extend_assets.webhooks import open_landing_zone

            events = open_landing_zone(s.webhook_landing)
        refetcher = RunRefetcher(client, events=events, max_workers=s.fetch_workers)
        with RawRunReader(runs, s3_client=s3_client, refetch=refetcher) as reader:
            yield reader
            if reader.missing_files:
                context.log.warning(
                    f"{len(reader.missing_files)} raw-run file(s) were gone (another "
                    f"container's disk, or retention); {reader.refetched} run(s) read again: "
                    f"{refetcher.from_events} from landed events, {refetcher.fetched} by GET."
                )


def reader_metadata(reader: RawRunReader) -> dict[str, Any]:
    """How many raw files were gone and how many of their runs were read again (by GET:
    the rest came from landed events)."""
    by_get = reader.refetch.fetched if isinstance(reader.refetch, RunRefetcher) else 0
    return {
        "raw_files_missing": len(reader.missing_files),
        "raw_runs_refetched": reader.refetched,
        "raw_runs_refetched_by_get": by_get,
    }


def any_on_s3(runs: pd.DataFrame) -> bool:
    """Whether a runs table points at raw files on S3, asked of its distinct URIs (one
    per raw file). Not through ``.str``: that accessor and its column refer to each
    other, so the column's text would outlive the step's inputs until a full garbage
    collection (11.6 MiB at 100,000 runs)."""
    if "raw_uri" not in runs.columns:
        return False
    return any(isinstance(u, str) and u.startswith("s3://") for u in runs["raw_uri"].unique())
