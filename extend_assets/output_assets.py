"""The output half: fetch settled runs, flatten them into the tables analysts query."""

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
    MetadataValue,
    Output,
    asset,
)

from extend_assets import flatten
from extend_assets.checks import completeness_check, failure_rate_check, low_confidence_check
from extend_assets.fetch import fetch_runs, run_ids_of_batches
from extend_assets.matching import (
    match_runs_to_ledger,
    rows_without_runs,
    schema_of,
    sources_and_runs,
    with_partition_date,
)
from extend_assets.resources import ExtendResource
from extend_assets.settings import AssetSettings
from extend_assets.tables import (
    MISSING,
    preview,
    run_frame,
    status_counts,
    storable,
    table_schema,
)


def runs_asset(
    s: AssetSettings, keys: dict[str, AssetKey], common: dict[str, Any], pool: str | None
) -> AssetsDefinition:
    @asset(
        key=keys["runs"],
        ins={"ledger": AssetIn(keys["batches"])},
        kinds={"extend", "pandas"},
        pool=pool,
        required_resource_keys={s.extend_resource_key},
        description="The full Extend WorkflowRun of every submitted document (raw JSON kept).",
        **common,
    )
    def extend_workflow_runs(
        context: AssetExecutionContext, ledger: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
        batch_ids = sorted({str(b) for b in ledger["batch_id"].dropna()})
        direct_ids = [str(r) for r in ledger["run_id"].dropna()]
        with extend.get_client() as client:
            listed_ids = run_ids_of_batches(client, batch_ids)
            run_ids = list(dict.fromkeys([*listed_ids, *direct_ids]))
            context.log.info(
                f"Fetching {len(run_ids)} run(s) from {len(batch_ids)} batch(es) and "
                f"{len(direct_ids)} direct run(s)."
            )
            runs = fetch_runs(
                client,
                run_ids,
                max_workers=s.fetch_workers,
                progress=lambda done, total: context.log.info(f"Fetched {done}/{total} runs."),
            )
        rows = match_runs_to_ledger(ledger, runs)
        frame = run_frame(rows)
        counts = status_counts(frame["status"])
        return Output(
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "runs_fetched": len(runs),
                "status_counts": MetadataValue.json(counts),
                "missing_runs": counts.get(MISSING, 0),
            },
        )

    return extend_workflow_runs


def documents_asset(
    s: AssetSettings,
    keys: dict[str, AssetKey],
    common: dict[str, Any],
    upstream_key: AssetKey,
    pool: str | None,
) -> AssetsDefinition:
    checks = [
        AssetCheckSpec(
            "completeness",
            asset=keys["documents"],
            description="Every listed document has exactly one row.",
        ),
        AssetCheckSpec(
            "failure_rate",
            asset=keys["documents"],
            description=f"At most {s.failure_rate_threshold:.0%} of documents failed.",
        ),
        AssetCheckSpec(
            "low_confidence_fields",
            asset=keys["documents"],
            description=f"Extracted fields below {s.low_confidence_threshold} confidence, counted.",
        ),
    ]
    s3_mode = s.raw_text_source_name is None

    @asset(
        key=keys["documents"],
        ins={"runs": AssetIn(keys["runs"]), "source_documents": AssetIn(upstream_key)},
        kinds={"pandas", "duckdb"},
        check_specs=checks,
        required_resource_keys={s.extend_resource_key},
        pool=pool if s.tag_runs_on_extend else None,
        description="One row per source document: ids, status, review state, every extracted "
        "field as a typed column and per-field confidence.",
        **common,
    )
    def extend_extracted_documents(
        context: AssetExecutionContext, runs: pd.DataFrame, source_documents: pd.DataFrame
    ) -> Iterator[Output[pd.DataFrame] | AssetCheckResult]:
        listed = source_documents if s3_mode else None
        raws, sources = sources_and_runs(runs)
        schema = schema_of(raws)
        flat = flatten.flatten_documents(raws, sources=sources, schema=schema)
        extra = rows_without_runs(runs, listed)
        frame = pd.concat([flat, extra], ignore_index=True) if len(extra) else flat
        frame = storable(with_partition_date(frame))
        context.log.info(f"{len(frame)} document row(s): {status_counts(frame['status'])}.")
        yield Output(frame, metadata=_documents_metadata(frame))
        yield completeness_check(frame, len(listed) if listed is not None else len(runs))
        yield failure_rate_check(frame, s.failure_rate_threshold)
        yield low_confidence_check(frame, s.low_confidence_threshold)
        if s.tag_runs_on_extend:
            _tag_runs(context, s, runs)

    return extend_extracted_documents


def _documents_metadata(frame: pd.DataFrame) -> dict[str, Any]:
    counts = status_counts(frame["status"]) if "status" in frame.columns else {}
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]
    mean_confidence = None
    if confidence_columns and len(frame):
        values = frame[confidence_columns].apply(pd.to_numeric, errors="coerce").stack()
        mean_confidence = float(values.mean()) if len(values) else None
    credits = (
        pd.to_numeric(frame.get("usage_credits"), errors="coerce")
        if "usage_credits" in frame
        else None
    )
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame),
        "status_counts": MetadataValue.json(counts),
        "mean_confidence": MetadataValue.float(mean_confidence)
        if mean_confidence is not None
        else None,
        "credits_used": float(credits.sum()) if credits is not None else 0.0,
        "preview": preview(frame),
    }


def _tag_runs(context: AssetExecutionContext, s: AssetSettings, runs: pd.DataFrame) -> None:
    extend: ExtendResource = getattr(context.resources, s.extend_resource_key)
    run_ids = [str(r) for r in runs["run_id"].dropna()]
    with extend.get_client() as client:
        for run_id, partition in zip(
            run_ids, runs.loc[runs["run_id"].notna(), "partition"], strict=True
        ):
            client.update_workflow_run(
                run_id,
                metadata={
                    "dagster_run_id": context.run.run_id,
                    "dagster_asset": context.asset_key.to_user_string(),
                    "dagster_partition": str(partition),
                },
            )
    context.log.info(f"Tagged {len(run_ids)} Extend run(s) with this Dagster run's id.")


def line_items_asset(keys: dict[str, AssetKey], common: dict[str, Any]) -> AssetsDefinition:
    @asset(
        key=keys["line_items"],
        ins={"runs": AssetIn(keys["runs"])},
        kinds={"pandas", "duckdb"},
        description="One row per element of each array-of-objects field (e.g. invoice line items).",
        **common,
    )
    def extend_extracted_line_items(
        context: AssetExecutionContext, runs: pd.DataFrame
    ) -> Output[pd.DataFrame]:
        raws, sources = sources_and_runs(runs)
        frame = flatten.flatten_line_items(raws, sources=sources, schema=schema_of(raws))
        frame = storable(with_partition_date(frame))
        return Output(
            frame,
            metadata={
                "dagster/row_count": len(frame),
                "dagster/column_schema": table_schema(frame),
                "preview": preview(frame),
            },
        )

    return extend_extracted_line_items
