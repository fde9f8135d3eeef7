"""``extend_workflow_runs``: the full Extend WorkflowRun of every document the ledger sent."""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, MetadataValue, Output, asset

from extend_assets.assets.keys import AssetKeys
from extend_assets.config import ExtendWorkflowConfig
from extend_assets.outputs.fetch import fetch_runs, run_ids_of_batches
from extend_assets.outputs.frames import MISSING, run_frame, status_counts
from extend_assets.outputs.matching import match_runs_to_ledger
from extend_assets.resources import ExtendResource


def build_workflow_runs_asset(
    s: ExtendWorkflowConfig, keys: AssetKeys, common: dict[str, Any]
) -> AssetsDefinition:
    """``extend_workflow_runs``: every run of the partition's ledger, fetched."""

    @asset(
        key=keys.runs,
        ins={"ledger": AssetIn(keys.batches)},
        kinds={"extend", "pandas"},
        pool=s.pool,
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
