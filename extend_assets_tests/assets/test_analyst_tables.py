"""The tables as an analyst meets them, after a single-run backfill of three days."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetCheckEvaluation, AssetKey, DagsterInstance

from extend_assets_tests.assets.harness import NAME, build, resources, runner

DOCUMENTS = AssetKey([NAME, "extend_extracted_documents"])
LINE_ITEMS = AssetKey([NAME, "extend_extracted_line_items"])


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from extend_assets.localstack import LocalStack

    tmp = tmp_path_factory.mktemp("analyst")
    db_path = tmp / "tables.duckdb"
    with LocalStack(documents=30, days=3, seed=7, emulator_latency=0.0, bucket="analyst") as stack:
        defs, workflow = build(
            stack.emulator, stack.s3, db_path, bucket=stack.bucket,
            prefix_template=f"{stack.prefix}{{date}}/", review_policy="settle",
        )  # fmt: skip
        partitions = sorted({doc.partition for doc in stack.documents})
        with DagsterInstance.ephemeral() as instance:
            pipeline = runner(defs, instance)
            pipeline.submit(partitions)
            report = pipeline.settle(partitions, pause_seconds=0.05)
            assert report.outputs_runs == 1  # one ranged run over the three days
            yield {
                "db": db_path,
                "instance": instance,
                "defs": workflow.to_definitions(resources(stack.emulator, stack.s3, db_path)),
                "partitions": partitions,
                "truth": {doc.key: doc.truth for doc in stack.documents},
            }


def _materializations(instance: DagsterInstance, key: AssetKey) -> dict[str, Any]:
    records = instance.fetch_materializations(key, limit=20).records
    return {
        str(r.partition_key): r.asset_materialization.metadata
        for r in records
        if r.asset_materialization is not None
    }


def test_each_day_records_its_own_counts(backfilled: dict[str, Any]) -> None:
    truth = backfilled["truth"]
    per_day = Counter(t["partition"] for t in truth.values())
    statuses: dict[str, Counter[str]] = {}
    for t in truth.values():
        statuses.setdefault(t["partition"], Counter())[t["expected_status"]] += 1
    documents = _materializations(backfilled["instance"], DOCUMENTS)
    assert sorted(documents) == backfilled["partitions"]
    for day, metadata in documents.items():
        assert metadata["dagster/row_count"].value == per_day[day]
        assert metadata["dagster/partition_row_count"].value == per_day[day]
        assert metadata["status_counts"].value == dict(sorted(statuses[day].items()))
    items = _materializations(backfilled["instance"], LINE_ITEMS)
    with duckdb.connect(str(backfilled["db"]), read_only=True) as con:
        stored = dict(
            con.execute(
                f"select strftime(partition_date, '%Y-%m-%d'), count(*) "
                f"from {NAME}.extend_extracted_line_items group by 1"
            ).fetchall()
        )
    assert {day: m["dagster/row_count"].value for day, m in items.items()} == stored


def test_columns_need_no_quoting_money_is_decimal_days_are_dates(
    backfilled: dict[str, Any],
) -> None:
    with duckdb.connect(str(backfilled["db"]), read_only=True) as con:
        types = dict(
            con.execute(
                f"select column_name, column_type from (describe {NAME}.extend_extracted_documents)"
            ).fetchall()
        )
        rows = con.execute(
            f"select key, vendor_name, total_amount, total_currency, invoice_date "
            f"from {NAME}.extend_extracted_documents "
            "where status = 'PROCESSED' and partition_date >= date '2025-01-13'"
        ).fetchall()
    assert types["total_amount"] == "DECIMAL(20,4)"
    assert types["invoice_date"] == "DATE" and types["partition_date"] == "DATE"
    assert "vendor_name_confidence" in types
    assert not [c for c in types if "." in c or c.endswith("__confidence")]
    truth = backfilled["truth"]
    for key, vendor, amount, currency, day in rows:
        value = truth[key]["value"]
        assert vendor == value["vendor"]["name"]
        assert float(amount) == pytest.approx(value["total"]["amount"])
        assert currency == value["total"]["iso_4217_currency_code"]
        assert (day.isoformat() if day else None) == value.get("invoice_date"), key


def test_metadata_describes_columns_previews_fields_and_locates_the_table(
    backfilled: dict[str, Any],
) -> None:
    metadata = next(iter(_materializations(backfilled["instance"], DOCUMENTS).values()))
    columns = {c.name: c for c in metadata["dagster/column_schema"].value.columns}
    assert "`vendor.name`" in (columns["vendor_name"].description or "")
    assert columns["total_amount"].type == "decimal(20, 4)"
    assert columns["run_id"].description is None
    assert "vendor_name" in metadata["preview"].value.splitlines()[0]
    spec = next(s for s in backfilled["defs"].resolve_all_asset_specs() if s.key == DOCUMENTS)
    db = Path(backfilled["db"]).resolve()
    assert spec.metadata["dagster/uri"] == f"duckdb://{db}"
    assert spec.metadata["dagster/table_name"] == f"tables.{NAME}.extend_extracted_documents"
    assert "duckdb" in spec.kinds


def test_failure_rate_counts_failed_only_and_reports_skipped_apart(
    backfilled: dict[str, Any],
) -> None:
    instance: DagsterInstance = backfilled["instance"]
    evaluations = [
        record.event_log_entry.dagster_event.event_specific_data
        for run in instance.get_runs()
        for record in instance.get_records_for_run(run.run_id).records
        if record.event_log_entry.dagster_event is not None
        and isinstance(
            record.event_log_entry.dagster_event.event_specific_data, AssetCheckEvaluation
        )
    ]
    (rate,) = [e for e in evaluations if e.check_name == "failure_rate"]
    statuses = Counter(t["expected_status"] for t in backfilled["truth"].values())
    metadata = rate.metadata
    assert metadata["failed"].value == statuses["FAILED"]
    assert metadata["skipped"].value == statuses["SKIPPED"]
    sent = sum(statuses.values()) - statuses["SKIPPED"]
    assert metadata["documents_sent"].value == sent
    assert metadata["failure_rate"].value == pytest.approx(statuses["FAILED"] / sent, abs=1e-4)


def test_each_day_of_a_ranged_run_shows_its_own_numbers_query_and_table(
    backfilled: dict[str, Any],
) -> None:
    """One run over three days: every asset's day shows that day's numbers, not the run's."""
    db, days = backfilled["db"], backfilled["partitions"]
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [
            c
            for (c,) in con.execute(
                f"select column_name from (describe {NAME}.extend_extracted_documents)"
            ).fetchall()
            if c.endswith("_confidence") and c != "classification_confidence"
        ]
        stacked = " union all ".join(
            f'select partition, "{c}" as v from {NAME}.extend_extracted_documents' for c in columns
        )
        own = {
            day: (rows, credits, confidence)
            for day, rows, credits, confidence in con.execute(
                f"select d.partition, d.n, d.credits, c.mean from (select partition, count(*) n, "
                f"coalesce(sum(usage_credits), 0) credits from {NAME}.extend_extracted_documents "
                f"group by 1) d left join (select partition, avg(v) mean from ({stacked}) "
                "group by 1) c using (partition)"
            ).fetchall()
        }
        rows_by_table = {
            table: dict(
                con.execute(
                    f"select strftime(partition_date, '%Y-%m-%d'), count(*) from {NAME}.{table} "
                    "group by 1"
                ).fetchall()
            )
            for table in (
                "extend_source_documents",
                "extend_workflow_batches",
                "extend_workflow_runs",
            )
        }
    assert len({v[1] for v in own.values()}) > 1 or len(days) == 1  # the days differ
    documents = _materializations(backfilled["instance"], DOCUMENTS)
    for day in days:
        m = documents[day]
        rows, credits, confidence = own[day]
        assert m["dagster/row_count"].value == rows == m["documents"].value
        assert m["credits_used"].value == pytest.approx(float(credits), abs=0.01)
        assert m["mean_confidence"].value == round(m["mean_confidence"].value, 4)
        assert m["mean_confidence"].value == pytest.approx(confidence, abs=1e-4)
        assert isinstance(m["failure_rate"].value, float)
        assert m["dagster/table_name"].value == f"tables.{NAME}.extend_extracted_documents"
        query = m["Query"].value
        # [day, next day): this day's window alone, not the run's range
        starts = [d for d in days if f">= '{d}" in query]
        assert starts == [day] and query.count(">=") == 1, query
    for table, stored in rows_by_table.items():
        shown = _materializations(backfilled["instance"], AssetKey([NAME, table]))
        assert {d: m["dagster/row_count"].value for d, m in shown.items()} == stored, table


def test_each_check_names_the_days_that_failed_it(backfilled: dict[str, Any]) -> None:
    instance: DagsterInstance = backfilled["instance"]
    evaluations = [
        record.event_log_entry.dagster_event.event_specific_data
        for run in instance.get_runs()
        for record in instance.get_records_for_run(run.run_id).records
        if record.event_log_entry.dagster_event is not None
        and isinstance(
            record.event_log_entry.dagster_event.event_specific_data, AssetCheckEvaluation
        )
    ]
    for evaluation in evaluations:
        per_day: Any = evaluation.metadata["by_partition"].value
        assert sorted(per_day) == backfilled["partitions"]
        failed = evaluation.metadata["failed_partitions"].value
        assert evaluation.passed == (not failed), evaluation.check_name
    (rate,) = [e for e in evaluations if e.check_name == "failure_rate"]
    threshold: Any = rate.metadata["threshold"].value
    by_day: Any = rate.metadata["by_partition"].value
    assert rate.metadata["failed_partitions"].value == [
        day for day, n in by_day.items() if n["failure_rate"] > threshold
    ]
