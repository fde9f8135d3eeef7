"""Raw runs where steps run in separate containers: on the local S3, read back by a
documents step in a fresh process with an empty working directory; and with the raw
files deleted, the tables are rebuilt the same from runs fetched again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, Definitions
from dagster._serdes import serialize_value

from extend_assets_tests.assets.harness import NAME, build_on_stack, metadata_value, runner, table
from extend_assets_tests.webhooks import conftest as webhook_fixtures

make_receiver = webhook_fixtures.make_receiver  # the receiver fixture, shared

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = AssetKey([NAME, "extend_extracted_documents"])
LINE_ITEMS = AssetKey([NAME, "extend_extracted_line_items"])


def materialize_alone(
    defs: Definitions, instance: DagsterInstance, partition: str, *keys: AssetKey
) -> Any:
    """The tables alone, as "materialize selected" in the UI does (runs read from storage)."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, partition_key=partition, asset_selection=list(keys)
    )
    assert result.success
    return result


def sorted_rows(frame: pd.DataFrame, *by: str) -> pd.DataFrame:
    return frame.sort_values(list(by)).reset_index(drop=True)


# Run by a fresh interpreter: builds the same definitions and materializes the
# documents table alone; prints its row count and refetched count as JSON.
FRESH_STEP = textwrap.dedent(
    """
    import json, sys, types
    from dagster import AssetKey, DagsterInstance
    from dagster._serdes import deserialize_value
    from extend_assets_tests.assets.harness import NAME, build_on_stack, metadata_value

    p = json.loads(sys.argv[1])
    s3 = types.SimpleNamespace(endpoint_url=p["s3_endpoint"], env=lambda: p["s3_env"])
    emulator = types.SimpleNamespace(api_key=p["api_key"], base_url=p["base_url"])
    stack = types.SimpleNamespace(emulator=emulator, s3=s3, bucket=p["bucket"], prefix=p["prefix"])
    defs = build_on_stack(stack, p["db_path"], raw_runs_dir=p["raw_runs_dir"])
    instance = DagsterInstance.from_ref(deserialize_value(p["instance_ref"]))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        partition_key=p["partition"],
        asset_selection=[AssetKey([NAME, "extend_extracted_documents"])],
    )
    print(json.dumps({
        "success": result.success,
        "refetched": metadata_value(result, "extend_extracted_documents", "raw_runs_refetched"),
    }))
    """
)


def run_in_a_fresh_process(params: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Like a new container: its own empty cwd, TMPDIR and HOME; only S3, the emulator,
    the Dagster instance and the warehouse are shared."""
    cwd, tmp, home = (scratch / name for name in ("cwd", "tmp", "home"))
    for path in (cwd, tmp, home):
        path.mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(tmp),
        "HOME": str(home),
    }
    done = subprocess.run(
        [sys.executable, "-c", FRESH_STEP, json.dumps(params)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert list(cwd.iterdir()) == []  # nothing written where the step happened to start
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow(seconds=28)
def test_raw_runs_on_s3_are_read_by_a_fresh_process_and_refetched_when_deleted(
    local_stack: Any, instance: DagsterInstance, tmp_path: Path, monkeypatch: Any
) -> None:
    stack = local_stack
    s3_client = stack.s3.boto3_client()
    raw_bucket = f"raw-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=raw_bucket)
    raw_runs_dir = f"s3://{raw_bucket}/extend/raw"
    db_path = tmp_path / "tables.duckdb"
    workdir = tmp_path / "here"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # an `s3:` folder here would mean the path was taken as local

    defs = build_on_stack(stack, db_path, raw_runs_dir=raw_runs_dir, review_policy="settle")
    pipeline = runner(defs, instance)
    partition = sorted({doc.partition for doc in stack.documents})[0]
    pipeline.submit([partition])
    assert pipeline.settle([partition], pause_seconds=0.05).settled == [partition]
    assert list(workdir.iterdir()) == []

    runs = table(db_path, "extend_workflow_runs")
    uris = set(runs.loc[runs["partition"] == partition, "raw_uri"].dropna())
    assert uris and all(u.startswith(f"{raw_runs_dir}/{NAME}/{partition}/") for u in uris)
    keys = [
        item["Key"] for item in s3_client.list_objects_v2(Bucket=raw_bucket).get("Contents", [])
    ]
    assert {f"s3://{raw_bucket}/{k}" for k in keys} >= uris
    documents = sorted_rows(table(db_path, "extend_extracted_documents"), "key")
    line_items = table(db_path, "extend_extracted_line_items")
    expected_rows = sum(doc.partition == partition for doc in stack.documents)
    assert len(documents) == expected_rows

    # A step in another container: a fresh interpreter with nothing on its local disk.
    params = {
        "s3_endpoint": stack.s3.endpoint_url,
        "s3_env": stack.s3.env(),
        "api_key": stack.emulator.api_key,
        "base_url": stack.emulator.base_url,
        "bucket": stack.bucket,
        "prefix": stack.prefix,
        "db_path": str(db_path),
        "raw_runs_dir": raw_runs_dir,
        "instance_ref": serialize_value(instance.get_ref()),
        "partition": partition,
    }
    fresh = run_in_a_fresh_process(params, tmp_path / "container")
    assert fresh == {"success": True, "refetched": 0}
    pd.testing.assert_frame_equal(
        sorted_rows(table(db_path, "extend_extracted_documents"), "key"), documents
    )

    # Retention deleted the raw files: the tables are rebuilt the same from GETs.
    for key in keys:
        s3_client.delete_object(Bucket=raw_bucket, Key=key)
    result = materialize_alone(defs, instance, partition, DOCUMENTS, LINE_ITEMS)
    refetched = metadata_value(result, "extend_extracted_documents", "raw_runs_refetched")
    assert refetched == runs.loc[runs["partition"] == partition, "run_id"].notna().sum() > 0
    assert metadata_value(result, "extend_extracted_line_items", "raw_runs_refetched") == refetched
    pd.testing.assert_frame_equal(
        sorted_rows(table(db_path, "extend_extracted_documents"), "key"), documents
    )
    after_items = table(db_path, "extend_extracted_line_items")
    assert len(after_items) == len(line_items)
    assert list(workdir.iterdir()) == []


def test_webhook_mode_reads_a_lost_raw_directory_back_from_the_landing_zone(
    make_receiver: Any, tmp_path: Path, instance: DagsterInstance
) -> None:
    """A new container whose local raw directory is empty: the runs come from the landed
    events (no GET), the documents table is the same."""
    import dataclasses
    import shutil

    from extend_assets_tests.assets.test_webhook_completion import FAST, GET_RUN, _stack

    landing, raw = tmp_path / "landing", tmp_path / "raw"
    receiver = make_receiver(str(landing)).start()
    with _stack(16, 21, receiver, dataclasses.replace(FAST, seed=1)) as stack:
        partition = sorted({d.partition for d in stack.documents})[0]
        db_path = tmp_path / "tables.duckdb"
        defs = build_on_stack(
            stack,
            db_path,
            completion="webhooks",
            webhook_landing=str(landing),
            raw_runs_dir=str(raw),
            webhook_settle_seconds=webhook_fixtures.E2E_SETTLE_SECONDS,
            review_policy="settle",
        )
        pipeline = runner(defs, instance)
        pipeline.submit([partition])
        assert pipeline.settle([partition], pause_seconds=0.2, max_ticks=300).settled == [partition]
        documents = sorted_rows(table(db_path, "extend_extracted_documents"), "key")
        runs = table(db_path, "extend_workflow_runs")
        ran = int(runs["run_id"].notna().sum())

        shutil.rmtree(raw)
        stack.emulator.reset_counters()
        result = materialize_alone(defs, instance, partition, DOCUMENTS)
        assert metadata_value(result, "extend_extracted_documents", "raw_runs_refetched") == ran > 0
        assert (
            metadata_value(result, "extend_extracted_documents", "raw_runs_refetched_by_get") == 0
        )
        assert stack.emulator.counters().get(GET_RUN, 0) == 0
        pd.testing.assert_frame_equal(
            sorted_rows(table(db_path, "extend_extracted_documents"), "key"), documents
        )
