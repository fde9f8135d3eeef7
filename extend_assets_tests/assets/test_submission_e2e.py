"""The submission half over real parts: moto's S3 server, the emulator over HTTP, a real instance."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import DagsterInstance, DailyPartitionsDefinition, asset

from extend_assets.cli.runner import PipelineRunError
from extend_assets.errors import ExtendAssetsConfigError, PartitionSelectionError
from extend_assets_tests.assets.harness import build, metadata_value, put_texts, runner

DAY = "2025-01-15"
BATCH_POST = "POST /workflow_runs/batch"


def batch_posts(emulator: Any) -> int:
    return int(emulator.counters().get(BATCH_POST, 0))


def submitted_keys(emulator: Any) -> Counter[str]:
    return Counter(str(s["metadata"].get("key")) for s in emulator.submissions())


@pytest.fixture
def held_emulator(extend_emulator: Any) -> Any:
    """Runs stay PENDING: these tests count submissions, not processing."""
    extend_emulator.set_throughput(runs_per_minute=1)
    return extend_emulator


@pytest.mark.slow(seconds=50)
def test_2500_documents_take_three_posts_then_none_then_one(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, (f"docs/{DAY}/doc-{i:05d}.txt" for i in range(2500)))
    defs, _ = build(held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/")
    pipeline = runner(defs, instance)

    first = pipeline.submit([DAY])
    assert batch_posts(held_emulator) == 3
    assert metadata_value(first, "extend_workflow_batches", "documents_submitted") == 2500
    assert sorted(Counter(s["batchId"] for s in held_emulator.submissions()).values()) == [
        500,
        1000,
        1000,
    ]

    again = pipeline.submit([DAY])
    assert batch_posts(held_emulator) == 3
    assert metadata_value(again, "extend_workflow_batches", "documents_submitted") == 0
    assert metadata_value(again, "extend_workflow_batches", "documents_already_submitted") == 2500

    put_texts(s3_client, bucket, (f"docs/{DAY}/late-{i}.txt" for i in range(10)))
    third = pipeline.submit([DAY])
    assert batch_posts(held_emulator) == 4
    assert metadata_value(third, "extend_workflow_batches", "documents_submitted") == 10
    batches = Counter(s["batchId"] for s in held_emulator.submissions())
    assert batches[metadata_value(third, "extend_workflow_batches", "extend/batch_ids")[0]] == 10
    assert max(submitted_keys(held_emulator).values()) == 1


def test_each_input_carries_its_identity_and_no_url_reaches_metadata(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, [f"docs/{DAY}/a.txt", f"docs/{DAY}/b.md"])
    defs, _ = build(
        held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        run_metadata={"team": "finance"}, usage_tags=["demo tag!"],
    )  # fmt: skip
    result = runner(defs, instance).submit([DAY])
    subs = sorted(held_emulator.submissions(), key=lambda s: s["fileName"])
    assert [s["fileName"] for s in subs] == ["a.txt", "b.md"]
    head = s3_client.head_object(Bucket=bucket, Key=f"docs/{DAY}/a.txt")
    meta = subs[0]["metadata"]
    assert meta["bucket"] == bucket and meta["key"] == f"docs/{DAY}/a.txt"
    assert meta["etag"] == head["ETag"].strip('"') and meta["partition"] == DAY
    assert meta["team"] == "finance" and meta["extend_assets_submission"].startswith("sub_")
    assert meta["extend:usage_tags"] == ["demotag"]
    everything = str([e.dagster_event for e in instance.all_logs(result.run_id)])
    assert "X-Amz-Signature" not in everything and "X-Amz-Credential" not in everything


def test_overlapping_backfill_submits_only_new_documents(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    days = ["2025-01-14", "2025-01-15", "2025-01-16"]
    for day in days:
        put_texts(s3_client, bucket, (f"docs/{day}/doc-{i}.txt" for i in range(7)))
    defs, _ = build(held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/")
    pipeline = runner(defs, instance)
    pipeline.submit(days[:2])
    assert batch_posts(held_emulator) == 1  # one batch across both partitions
    result = pipeline.submit(days)  # overlaps the first backfill
    assert metadata_value(result, "extend_workflow_batches", "documents_submitted") == 7
    assert batch_posts(held_emulator) == 2
    assert len(held_emulator.submissions()) == 21
    assert max(submitted_keys(held_emulator).values()) == 1


def test_changed_object_is_resubmitted_and_reprocess_all_resends(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, [f"docs/{DAY}/a.txt", f"docs/{DAY}/b.txt"])
    defs, _ = build(held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/")
    pipeline = runner(defs, instance)
    pipeline.submit([DAY])
    put_texts(s3_client, bucket, [f"docs/{DAY}/a.txt"], body="Invoice Number: CHANGED\n")
    changed = pipeline.submit([DAY])
    assert metadata_value(changed, "extend_workflow_batches", "documents_submitted") == 1
    everything = pipeline.submit([DAY], reprocess="all")
    assert metadata_value(everything, "extend_workflow_batches", "documents_submitted") == 2
    assert batch_posts(held_emulator) == 3


def test_priority_submits_groups_of_fifty_through_run_workflow(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, (f"docs/{DAY}/doc-{i:03d}.txt" for i in range(120)))
    defs, _ = build(
        held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/", priority=10
    )
    result = runner(defs, instance).submit([DAY])
    assert held_emulator.counters().get("POST /workflow_runs", 0) == 3
    assert batch_posts(held_emulator) == 0
    assert len(metadata_value(result, "extend_workflow_batches", "extend/run_ids")) == 120


def test_raw_texts_from_an_upstream_asset_are_submitted_once(
    held_emulator: Any, local_s3: Any, instance: DagsterInstance, db_path: Path
) -> None:
    daily = DailyPartitionsDefinition(start_date="2025-01-01")

    @asset(key=["t", "emails"], partitions_def=daily, metadata={"partition_expr": "partition_date"})
    def emails(context) -> pd.DataFrame:  # untyped: Dagster would read a postponed annotation
        return pd.DataFrame(
            {
                "email_id": ["m1", "m2", "m3"],
                "body": ["Invoice Number: A-1\n", "Invoice Number: A-2\n", None],
                "partition_date": pd.to_datetime([context.partition_key] * 3),
            }
        )

    defs, _ = build(
        held_emulator, local_s3, db_path, raw_text_source=["t", "emails"],
        raw_text_id_column="email_id", raw_text_column="body", extra_assets=[emails],
    )  # fmt: skip
    emails_job = defs.get_implicit_global_asset_job_def()
    emails_job.execute_in_process(
        instance=instance, partition_key=DAY, asset_selection=[emails.key]
    )
    pipeline = runner(defs, instance)
    first = pipeline.submit([DAY])
    assert metadata_value(first, "extend_workflow_batches", "documents_submitted") == 2
    second = pipeline.submit([DAY])
    assert metadata_value(second, "extend_workflow_batches", "documents_submitted") == 0
    ids = sorted(s["metadata"]["source_id"] for s in held_emulator.submissions())
    assert ids == ["m1", "m2"]


# -- bad input: a clear error or a clear skip, nothing half-submitted ---------------------------


def test_empty_partition_succeeds_with_zero_documents(
    held_emulator: Any, local_s3: Any, bucket: str, instance: DagsterInstance, db_path: Path
) -> None:
    defs, _ = build(held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/")
    result = runner(defs, instance).submit([DAY])
    assert metadata_value(result, "extend_source_documents", "documents_listed") == 0
    assert metadata_value(result, "extend_workflow_batches", "documents_submitted") == 0
    assert batch_posts(held_emulator) == 0


def test_missing_bucket_names_the_bucket_and_the_fix(
    held_emulator: Any, local_s3: Any, instance: DagsterInstance, db_path: Path
) -> None:
    defs, _ = build(
        held_emulator, local_s3, db_path, bucket="no-such-bucket", prefix_template="d/{date}/"
    )
    with pytest.raises(
        PipelineRunError, match=r"Bucket 'no-such-bucket' does not exist.*EXTEND_S3_BUCKET"
    ):
        runner(defs, instance).submit([DAY])
    assert batch_posts(held_emulator) == 0


def test_access_denied_names_the_permission(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, [f"docs/{DAY}/a.txt"])
    local_s3.deny(bucket)
    try:
        defs, _ = build(
            held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/"
        )
        with pytest.raises(PipelineRunError, match=r"Access denied.*s3:ListBucket"):
            runner(defs, instance).submit([DAY])
    finally:
        local_s3.allow(bucket)
    assert batch_posts(held_emulator) == 0


def test_unknown_workflow_surfaces_the_404_and_submits_nothing(
    held_emulator: Any,
    local_s3: Any,
    s3_client: Any,
    bucket: str,
    instance: DagsterInstance,
    db_path: Path,
) -> None:
    put_texts(s3_client, bucket, [f"docs/{DAY}/a.txt"])
    defs, _ = build(
        held_emulator, local_s3, db_path, bucket=bucket, prefix_template="docs/{date}/",
        workflow_id="workflow_doesNotExist000000000",
    )  # fmt: skip
    pipeline = runner(defs, instance)
    with pytest.raises(PipelineRunError, match=r"404.*workflow_doesNotExist000000000"):
        pipeline.submit([DAY])
    assert held_emulator.submissions() == []
    # The refused intent is closed, so a corrected run starts clean.
    with pytest.raises(PipelineRunError, match="404"):
        pipeline.submit([DAY])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"prefix_template": "docs/"}, PartitionSelectionError, r"no \{date\} placeholder"),
        ({"run_metadata": {"blob": "x" * 11000}}, ExtendAssetsConfigError, r"run_metadata.*10240"),
        ({"priority": 0}, ExtendAssetsConfigError, r"priority.*1\.\.100"),
        ({"priority": 101}, ExtendAssetsConfigError, r"priority.*1\.\.100"),
        ({"bucket": None}, ExtendAssetsConfigError, r"bucket.*EXTEND_S3_BUCKET"),
        ({"workflow_id": ""}, ExtendAssetsConfigError, r"workflow_id"),
    ],
)
def test_bad_factory_arguments_fail_at_definition_time(
    extend_emulator: Any,
    local_s3: Any,
    db_path: Path,
    kwargs: dict[str, Any],
    error: type,
    pattern: str,
) -> None:
    arguments: dict[str, Any] = {"bucket": "b", "prefix_template": "docs/{date}/", **kwargs}
    with pytest.raises(error, match=pattern):
        build(extend_emulator, local_s3, db_path, **arguments)
