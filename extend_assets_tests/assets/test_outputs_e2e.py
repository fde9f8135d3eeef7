"""End to end on the sample corpus: tables equal the corpus's ground truth, reviews reach them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetCheckEvaluation, DagsterInstance

from extend_assets_tests.assets.harness import NAME, build_on_stack, metadata_value, runner, table

SECRET_MARKERS = ("X-Amz-Signature", "X-Amz-Credential")


@pytest.fixture(scope="module")
def corpus_stack() -> Iterator[Any]:
    from extend_assets.localstack import LocalStack

    with LocalStack(documents=90, days=3, seed=5, emulator_latency=0.0) as stack:
        yield stack


def plain(value: Any) -> Any:
    """A table cell as plain Python: NA/NaT become None, dates their ISO day."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return value


def truth_of(stack: Any) -> dict[str, dict[str, Any]]:
    return {doc.key: doc.truth for doc in stack.documents}


def build_on(stack: Any, db_path: Path, **options: Any) -> Any:
    """The pipeline over the corpus stack's bucket, settling reviews at once."""
    return build_on_stack(stack, db_path, review_policy="settle", **options)


def test_tables_match_the_ground_truth_and_a_review_reaches_them(
    corpus_stack: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    stack = corpus_stack
    db_path = tmp_path / "tables.duckdb"
    defs = build_on(stack, db_path)
    pipeline = runner(defs, instance)
    partitions = sorted({doc.partition for doc in stack.documents})
    submitted = pipeline.submit(partitions)
    report = pipeline.settle(partitions, pause_seconds=0.05)
    assert set(report.settled) == set(partitions)

    truth = truth_of(stack)
    documents = table(db_path, "extend_extracted_documents").set_index("key")
    # Completeness: every listed document exactly once, with the predicted status.
    assert sorted(documents.index) == sorted(truth)
    assert documents["status"].to_dict() == {k: t["expected_status"] for k, t in truth.items()}

    for key, expected in truth.items():
        row = documents.loc[key]
        if expected["expected_failure_code"]:
            assert expected["expected_failure_code"] in str(row["failure_message"]), key
        value = expected["value"]
        if expected["expected_status"] not in ("PROCESSED", "NEEDS_REVIEW") or value is None:
            continue
        assert plain(row["invoice_number"]) == value["invoice_number"], key
        assert plain(row["vendor_name"]) == value["vendor"]["name"], key
        assert plain(row["invoice_date"]) == value["invoice_date"], key
        assert plain(row["due_date"]) == value["due_date"], key
        assert plain(row["payment_terms"]) == value["payment_terms"], key
        assert plain(row["is_paid"]) == value["is_paid"], key
        assert math.isclose(float(row["total_amount"]), value["total"]["amount"]), key
        assert row["total_currency"] == value["total"]["iso_4217_currency_code"], key
        assert row["classification_type"] == expected["document_type"], key
        assert row["partition"] == expected["partition"]

    items = table(db_path, "extend_extracted_line_items")
    expected_items = sum(
        len((t["value"] or {}).get("line_items") or [])
        for t in truth.values()
        if t["expected_status"] in ("PROCESSED", "NEEDS_REVIEW")
    )
    assert len(items) == expected_items
    some = next(t for t in truth.values() if t["expected_status"] == "PROCESSED" and t["value"])
    mine = items[items["key"] == some["key"]].sort_values("index")
    assert list(mine["amount"].astype(float)) == pytest.approx(
        [item["amount"] for item in some["value"]["line_items"]]
    )

    # Nothing secret reached the stored tables or the submission metadata.
    for frame in (documents.reset_index(), items):
        text = frame.astype(str).to_csv()
        assert not any(marker in text for marker in SECRET_MARKERS)
    assert metadata_value(submitted, "extend_workflow_batches", "extend/documents_submitted")

    # A reviewer approves one NEEDS_REVIEW run: the sensor re-requests its partition.
    review_keys = [k for k, t in truth.items() if t["expected_status"] == "NEEDS_REVIEW"]
    assert review_keys, "the corpus always holds a document that needs review"
    run_id = str(documents.loc[review_keys[0], "run_id"])
    stack.emulator.approve(
        run_id, reviewed_by="qa@example.com", edits={"invoice_number": "EDITED-1"}
    )
    partition = truth[review_keys[0]]["partition"]
    again = pipeline.settle([partition], pause_seconds=0.05)
    assert again.outputs_runs >= 1
    after = table(db_path, "extend_extracted_documents").set_index("key")
    assert after.loc[review_keys[0], "status"] == "PROCESSED"
    assert bool(after.loc[review_keys[0], "reviewed"]) is True
    assert after.loc[review_keys[0], "reviewed_by"] == "qa@example.com"
    assert after.loc[review_keys[0], "invoice_number"] == "EDITED-1"  # the reviewed output wins
    assert bool(after.loc[review_keys[0], "edited"]) is True
    assert len(after) == len(truth)


def test_checks_pass_and_metadata_describes_the_table(
    corpus_stack: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    stack = corpus_stack
    db_path = tmp_path / "tables.duckdb"
    defs = build_on(stack, db_path, failure_rate_threshold=0.5)
    pipeline = runner(defs, instance)
    partition = sorted({doc.partition for doc in stack.documents})[-1]
    pipeline.submit([partition])
    pipeline.settle([partition], pause_seconds=0.05)
    outputs = [r for r in instance.get_runs() if r.job_name.endswith("_extend_outputs")]
    assert outputs
    last = instance.get_records_for_run(outputs[0].run_id).records
    checks: dict[str, bool] = {}
    for record in last:
        event = record.event_log_entry.dagster_event
        if event is not None and isinstance(event.event_specific_data, AssetCheckEvaluation):
            checks[event.event_specific_data.check_name] = event.event_specific_data.passed
    assert checks.get("completeness") is True
    assert checks.get("failure_rate") is True
    assert "low_confidence_fields" in checks

    frame: pd.DataFrame = table(db_path, "extend_extracted_documents")
    assert set(frame["partition"]) == {partition}
    assert frame["status"].isin(["PROCESSED", "FAILED", "NEEDS_REVIEW", "SKIPPED"]).all()


def test_older_raw_run_directories_of_a_partition_are_deleted(
    corpus_stack: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    from dagster import RunRequest

    from extend_assets.outputs.raw_files import path_of

    stack = corpus_stack
    db_path, raw = tmp_path / "tables.duckdb", tmp_path / "raw"
    defs = build_on(stack, db_path, raw_runs_dir=str(raw), raw_runs_keep=2)
    pipeline = runner(defs, instance)
    partition = sorted({doc.partition for doc in stack.documents})[0]
    pipeline.submit([partition])
    assert pipeline.settle([partition], pause_seconds=0.05).settled == [partition]
    dagster_runs = []
    for _ in range(3):  # the partition's outputs again, as a rerun from the UI would
        dagster_runs.append(pipeline.run_outputs(RunRequest(partition_key=partition)).run_id)

    directories = sorted(p.name for p in (raw / NAME / partition).iterdir())
    assert directories == sorted(dagster_runs[-2:])  # the newest two; three others deleted
    runs = table(db_path, "extend_workflow_runs")
    uris = set(runs.loc[runs["partition"] == partition, "raw_uri"].dropna())
    assert uris and all(path_of(uri).exists() for uri in uris)
    assert {path_of(uri).parent.name for uri in uris} == {dagster_runs[-1]}
    documents = table(db_path, "extend_extracted_documents")
    assert (documents["partition"] == partition).sum() == sum(
        doc.partition == partition for doc in stack.documents
    )


def test_tag_runs_on_extend_writes_the_dagster_run_and_partition_into_each_run(
    corpus_stack: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    """The documents step tags every run it read after emptying its inputs (the bundled
    IO manager loads them for this step alone), from what it kept of them."""
    stack = corpus_stack
    db_path = tmp_path / "tables.duckdb"
    defs = build_on(stack, db_path, tag_runs_on_extend=True)
    pipeline = runner(defs, instance)
    partition = sorted({doc.partition for doc in stack.documents})[1]
    pipeline.submit([partition])
    assert pipeline.settle([partition], pause_seconds=0.05).settled == [partition]

    runs = table(db_path, "extend_workflow_runs")
    sent = runs.loc[runs["run_id"].notna()]
    assert len(sent) and set(sent["partition"]) == {partition}
    outputs = [r.run_id for r in instance.get_runs() if r.job_name.endswith("_extend_outputs")]
    for run_id in sent["run_id"]:
        metadata = stack.emulator.backend.get(run_id)["metadata"] or {}
        assert metadata.get("dagster_partition") == partition, run_id
        assert metadata.get("dagster_run_id") in outputs, run_id
        assert str(metadata.get("dagster_asset")).endswith("extend_extracted_documents")
