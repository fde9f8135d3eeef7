"""The bundled location's steps are forked from one process per run that imported the
code once (``forkserver``), not each started afresh; the executor's run config is
Dagster's default one, so ``in_process`` and an explicit ``start_method`` still work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    execute_job,
    in_process_executor,
    reconstructable,
)

from extend_assets.definitions import build_definitions, defs
from extend_assets.executor import FORKSERVER, with_forkserver
from extend_assets_tests.deployment.forked_steps import (
    OUT_ENV,
    parent_command_line,
    two_steps,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads /proc")


def _parents(
    instance: DagsterInstance, out: Path, run_config: dict[str, Any] | None = None
) -> list[str]:
    os.environ[OUT_ENV] = str(out)
    try:
        with execute_job(
            reconstructable(two_steps), instance=instance, run_config=run_config or {}
        ) as result:
            assert result.success
    finally:
        del os.environ[OUT_ENV]
    return [path.read_text() for path in sorted(out.iterdir())]


def test_steps_are_forked_from_the_run_s_forkserver(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    (tmp_path / "steps").mkdir()
    parents = _parents(instance, tmp_path / "steps")
    assert len(parents) == 2
    assert all("multiprocessing.forkserver" in parent for parent in parents), parents
    assert all("'extend_assets.assets'" in parent for parent in parents)  # imported once there


def test_an_explicit_start_method_and_in_process_still_win(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    spawn: dict[str, Any] = {
        "execution": {"config": {"multiprocess": {"start_method": {"spawn": {}}}}}
    }
    (tmp_path / "spawn").mkdir()
    parents = _parents(instance, tmp_path / "spawn", spawn)
    assert len(parents) == 2 and not any("forkserver" in parent for parent in parents)
    (tmp_path / "in_process").mkdir()
    in_process: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}
    assert _parents(instance, tmp_path / "in_process", in_process) == [
        parent_command_line()
    ]  # in this process: its parent is this test's


def test_the_bundled_location_runs_on_it_and_build_definitions_takes_yours() -> None:
    executor = defs.resolve_job_def("invoices_extend_submit").executor_def
    assert executor.name == "multi_or_in_process_executor"
    assert defs.executor is not None and build_definitions().executor is None
    yours = Definitions.merge(build_definitions(), Definitions(executor=in_process_executor))
    assert yours.resolve_job_def("invoices_extend_submit").executor_def is in_process_executor
    assert with_forkserver(None) == {"multiprocess": {"start_method": FORKSERVER}}
    assert with_forkserver({"multiprocess": {"max_concurrent": 2}}) == {
        "multiprocess": {"max_concurrent": 2, "start_method": FORKSERVER}
    }
