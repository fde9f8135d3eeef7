"""An asset wipe hides the ledger's observations; it must not lead to a second submission."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance, RunRequest

from extend_assets_tests.assets.harness import build, metadata_value, put_texts, runner, table

DAY = "2025-01-15"
BATCH_POST = "POST /workflow_runs/batch"


def test_wiping_the_batches_asset_does_not_resubmit_and_reprocess_still_does(
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    keys = [f"docs/{DAY}/doc-{i}.txt" for i in range(12)]
    put_texts(s3_client, bucket, keys)
    defs, workflow = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        review_policy="settle",
    )  # fmt: skip
    pipeline = runner(defs, instance)
    pipeline.submit([DAY])
    pipeline.settle([DAY], pause_seconds=0.05)
    assert extend_emulator.counters()[BATCH_POST] == 1

    instance.wipe_assets([AssetKey(["t", "extend_workflow_batches"])])
    put_texts(s3_client, bucket, [f"docs/{DAY}/late.txt"])
    after = pipeline.submit([DAY])
    assert metadata_value(after, "extend_workflow_batches", "documents_submitted") == 1
    assert metadata_value(after, "extend_workflow_batches", "documents_already_submitted") == 12
    assert extend_emulator.counters()[BATCH_POST] == 2
    submitted = Counter(s["metadata"]["key"] for s in extend_emulator.submissions())
    assert submitted == Counter([*keys, f"docs/{DAY}/late.txt"])
    pipeline.settle([DAY], pause_seconds=0.05)

    # Wiping everything: nothing to send, and the tables rebuild one row per document.
    instance.wipe_assets([key for asset in workflow.assets for key in asset.keys])
    pipeline.submit([DAY])
    pipeline.run_outputs(RunRequest(partition_key=DAY))
    rows = table(db_path, "extend_extracted_documents")
    assert Counter(rows["key"]) == Counter([*keys, f"docs/{DAY}/late.txt"])
    assert extend_emulator.counters()[BATCH_POST] == 2

    # Reprocessing on purpose still resends.
    again = pipeline.submit([DAY], reprocess="all")
    assert metadata_value(again, "extend_workflow_batches", "documents_submitted") == 13


def test_after_a_wipe_a_batch_that_spans_days_is_rebuilt_in_each_day(
    extend_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    """One batch carries two days' documents; after a wipe, the first day rebuilt alone
    knows that batch, and the second day's rebuild must still record its own documents
    (found by the randomized test: a day resent 8 documents)."""
    days = [DAY, "2025-01-16"]
    keys = [f"docs/{day}/doc-{i}.txt" for day in days for i in range(3)]
    put_texts(s3_client, bucket, keys)
    defs, _ = build(
        extend_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/"
    )
    pipeline = runner(defs, instance)
    pipeline.submit(days)  # one run, one batch across both days
    assert extend_emulator.counters()[BATCH_POST] == 1

    instance.wipe_assets([AssetKey(["t", "extend_workflow_batches"])])
    first = pipeline.submit([DAY])
    assert metadata_value(first, "extend_workflow_batches", "documents_rebuilt_after_wipe") == 3
    both = pipeline.submit(days)
    assert metadata_value(both, "extend_workflow_batches", "documents_rebuilt_after_wipe") == 3
    assert metadata_value(both, "extend_workflow_batches", "documents_submitted") == 0
    assert extend_emulator.counters()[BATCH_POST] == 1
    assert Counter(s["metadata"]["key"] for s in extend_emulator.submissions()) == Counter(keys)
