"""``extend-assets dev``: ``--backfill`` launches the sample days' backfill through the UI's
GraphQL API; without it, the start-up text names the page, the button and the range."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dagster._core.test_utils import in_process_test_workspace, instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_graphql.test.utils import execute_dagster_graphql

from extend_assets.cli.backfill import BackfillNotLaunched, launch_when_ready
from extend_assets.cli.demo import patched_environ
from extend_assets.cli.dev import (
    LOCATION,
    SUBMIT_ASSETS,
    SUBMIT_JOB,
    add_arguments,
    dev_environment,
    print_startup,
)
from extend_assets.localstack import LocalStack


def test_the_startup_text_names_the_page_the_button_and_the_range(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"EXTEND_DUCKDB_PATH": str(tmp_path / "x.duckdb"), "EXTEND_REVIEW_POLICY": "settle"}
    with LocalStack(documents=6, days=3, emulator_latency=0.0) as stack:
        days = sorted({doc.partition for doc in stack.documents})
        print_startup(stack, env, 3111)
        text = capsys.readouterr().out
        print_startup(stack, env, 3111, backfill=True)
        launched = capsys.readouterr().out
    assert f"http://127.0.0.1:3111/locations/{LOCATION}/jobs/{SUBMIT_JOB}" in text
    assert '"Materialize all"' in text and '"Launch backfill"' in text
    assert f"{days[0]} ... {days[-1]}" in text and "--backfill" in text
    assert "Materialize all" not in launched and "is launched as soon as" in launched


def test_the_backfill_flag_is_offered() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--backfill"]).backfill is True
    assert parser.parse_args([]).backfill is False


def test_backfill_is_launched_through_the_uis_graphql_over_the_sample_days(
    tmp_path: Path,
) -> None:
    """The same mutation the UI sends, against the real schema and the dev code location."""
    home = tmp_path / "home"
    home.mkdir()
    with LocalStack(documents=6, days=2, emulator_latency=0.0) as stack:
        days = sorted({doc.partition for doc in stack.documents})
        env = dev_environment(stack, home, "settle")
        variables = {k: v for k, v in env.items() if k.startswith(("EXTEND", "AWS"))}
        with (
            patched_environ(variables),
            instance_for_test(temp_dir=str(home)) as instance,
            in_process_test_workspace(
                instance, LoadableTargetOrigin(module_name="extend_assets.definitions")
            ) as context,
        ):

            def post(query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
                result = execute_dagster_graphql(context, query, dict(variables))
                if result.errors:
                    raise BackfillNotLaunched(str(result.errors[0]))
                return result.data

            backfill_id = launch_when_ready(post, SUBMIT_ASSETS, days, alive=lambda: True)
            assert backfill_id is not None
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            targeted = backfill.asset_backfill_data.target_subset  # type: ignore[union-attr]
            assert {tuple(k.path) for k in targeted.asset_keys} == set(SUBMIT_ASSETS)
            for key in targeted.asset_keys:
                assert sorted(targeted.get_partitions_subset(key).get_partition_keys()) == days
