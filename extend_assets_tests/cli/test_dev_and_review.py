"""``extend-assets dev`` completes unattended on recent sample days; ``review`` settles
a run in review on the emulator."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance

from extend_assets.cli import main
from extend_assets.cli.demo import patched_environ
from extend_assets.cli.dev import dev_environment, print_startup, sample_end_date
from extend_assets.cli.environment import install_dagster_yaml
from extend_assets.cli.runner import PipelineRunner
from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID
from extend_assets.localstack import LocalStack


def test_sample_days_end_yesterday_inside_the_ui_backfill_window() -> None:
    today = date(2026, 11, 28)
    assert sample_end_date(today) == date(2026, 11, 27)
    stack = LocalStack(documents=9, days=3, end_date=sample_end_date(today))
    days = sorted({doc.partition for doc in stack.documents})
    assert days == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert all(today - date.fromisoformat(day) <= timedelta(days=90) for day in days)


def test_the_dev_stack_completes_unattended_with_a_run_in_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    install_dagster_yaml(home)
    with LocalStack(
        documents=14, days=2, emulator_latency=0.0, end_date=sample_end_date()
    ) as stack:
        env = dev_environment(stack, home, "settle")
        print_startup(stack, env, 3000)
        printed = capsys.readouterr().out
        partitions = sorted({doc.partition for doc in stack.documents})
        assert stack.emulator.base_url in printed and env["EXTEND_DUCKDB_PATH"] in printed
        assert all(day in printed for day in partitions)
        with patched_environ(
            {k: v for k, v in env.items() if k.startswith(("EXTEND", "AWS", "DAGSTER_HOME"))}
        ):
            from extend_assets.definitions import build_definitions

            with DagsterInstance.from_config(str(home)) as instance:
                runner = PipelineRunner(build_definitions(), instance, "invoices")
                runner.submit(partitions)
                report = runner.settle(partitions, max_ticks=100, pause_seconds=0.1)
    assert sorted(report.settled) == partitions
    with duckdb.connect(env["EXTEND_DUCKDB_PATH"], read_only=True) as con:
        statuses = dict(
            con.execute(
                "select status, count(*) from invoices.extend_extracted_documents group by 1"
            ).fetchall()
        )
    assert statuses.get("NEEDS_REVIEW") == 1 and sum(statuses.values()) == 14


def test_review_approve_settles_a_run_on_the_emulator(
    extend_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExtendClient(api_key=extend_emulator.api_key, base_url=extend_emulator.base_url) as client:
        (created,) = client.run_workflow(
            SAMPLE_WORKFLOW_ID, raw_texts=["Invoice Number: R-1 (?)\n"]
        )
        extend_emulator.wait_idle(120)
        run_id = created.id
        assert client.get_workflow_run(run_id).status == "NEEDS_REVIEW"
        code = main(["review", "approve", run_id, "--base-url", extend_emulator.base_url])
        assert code == 0
        assert f"{run_id}: approved, now PROCESSED" in capsys.readouterr().out
        run = client.get_workflow_run(run_id)
        assert run.status == "PROCESSED" and run.reviewed_at is not None
    assert main(["review", "approve", run_id, "--base-url", extend_emulator.base_url]) == 1
    assert "not NEEDS_REVIEW" in capsys.readouterr().err
