"""The bundled code location (``extend_assets.definitions``) with a step-per-container executor.

What ``k8s_job_executor`` and ``docker_executor`` do with a pod or a container per step,
done here with a process per step: Dagster's own step-delegating executor hands each step
to :class:`ProcessPerStepHandler`, which starts ``python -m dagster api execute_step`` in a
brand-new process with its own empty working directory, ``TMPDIR``, ``HOME`` and
``DAGSTER_HOME`` (holding only a copy of the instance's ``dagster.yaml``). The step rebuilds
the instance from that file, not from the run worker's reference, so all that steps share
is what the deployment shares: PostgreSQL, S3 and the warehouse.

Environment of the run worker:
  STEP_CONTAINERS_ROOT     where each step's scratch directories are made (required)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    Definitions,
    InitExecutorContext,
    executor,
    multiple_process_executor_requirements,
)
from dagster._core.events import DagsterEvent
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.step_delegating import StepDelegatingExecutor
from dagster._core.executor.step_delegating.step_handler.base import (
    CheckStepHealthResult,
    StepHandler,
    StepHandlerContext,
)
from dagster._grpc.types import ExecuteStepArgs

from extend_assets.definitions import build_definitions

CONTAINERS_ROOT = "STEP_CONTAINERS_ROOT"
# What a step's container is given besides its own directories: the deployment's settings.
FORWARDED_PREFIXES = ("EXTEND_", "AWS_")
FORWARDED = ("PATH", "PYTHONPATH")


def fresh_dirs(root: Path) -> dict[str, Path]:
    """An empty working directory, TMPDIR, HOME and DAGSTER_HOME under ``root``."""
    dirs = {name: root / name for name in ("cwd", "tmp", "home", "dagster_home")}
    for path in dirs.values():
        path.mkdir(parents=True)
    return dirs


def container_env(dirs: dict[str, Path], dagster_yaml: str) -> dict[str, str]:
    """The environment of a new container: forwarded settings, its own directories."""
    (dirs["dagster_home"] / "dagster.yaml").write_text(dagster_yaml)
    env = {
        name: value
        for name, value in os.environ.items()
        if name in FORWARDED or name.startswith(FORWARDED_PREFIXES)
    }
    env.update(
        TMPDIR=str(dirs["tmp"]),
        HOME=str(dirs["home"]),
        DAGSTER_HOME=str(dirs["dagster_home"]),
    )
    return env


class ProcessPerStepHandler(StepHandler):
    """Launches every step as ``dagster api execute_step`` in a process of its own."""

    def __init__(self) -> None:
        self._processes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self._launched = 0

    @property
    def name(self) -> str:
        return "ProcessPerStepHandler"

    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        args = step_handler_context.execute_step_args
        (step_key,) = args.step_keys_to_execute or ()
        # No instance reference: the step loads the instance from its own DAGSTER_HOME.
        step_args = ExecuteStepArgs(
            job_origin=args.job_origin,
            run_id=args.run_id,
            step_keys_to_execute=args.step_keys_to_execute,
            instance_ref=None,
            retry_mode=args.retry_mode,
            known_state=args.known_state,
            should_verify_step=args.should_verify_step,
        )
        self._launched += 1
        root = Path(os.environ[CONTAINERS_ROOT]) / f"{args.run_id[:8]}-{self._launched}-{step_key}"
        dirs = fresh_dirs(root)
        dagster_yaml = Path(os.environ["DAGSTER_HOME"], "dagster.yaml").read_text()
        env = container_env(dirs, dagster_yaml)
        env.update({item["name"]: item["value"] for item in step_args.get_command_env()})
        with (root / "step.log").open("wb") as log:
            self._processes[(args.run_id, step_key)] = subprocess.Popen(
                # What an image's entry point runs: ``dagster api execute_step``.
                [sys.executable, "-m", "dagster", "api", "execute_step"],
                cwd=dirs["cwd"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        yield from ()

    def check_step_health(self, step_handler_context: StepHandlerContext) -> CheckStepHealthResult:
        args = step_handler_context.execute_step_args
        (step_key,) = args.step_keys_to_execute or ()
        process = self._processes.get((args.run_id, step_key))
        code = None if process is None else process.poll()
        if code not in (None, 0):
            return CheckStepHealthResult.unhealthy(f"the step's process exited with {code}")
        return CheckStepHealthResult.healthy()

    def terminate_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        args = step_handler_context.execute_step_args
        for step_key in args.step_keys_to_execute or ():
            process = self._processes.get((args.run_id, step_key))
            if process is not None and process.poll() is None:
                process.kill()
        yield from ()


@executor(
    name="process_per_step",
    requirements=multiple_process_executor_requirements(),
)
def process_per_step_executor(init_context: InitExecutorContext) -> StepDelegatingExecutor:
    # One step at a time: the warehouse is one DuckDB file (one writer).
    return StepDelegatingExecutor(
        ProcessPerStepHandler(),
        retries=RetryMode.DISABLED,
        max_concurrent=1,
        sleep_seconds=0.1,
        check_step_health_interval_seconds=1,
    )


def build_step_definitions() -> Definitions:
    """The bundled location as it is, run with a container per step."""
    return Definitions.merge(build_definitions(), Definitions(executor=process_per_step_executor))


defs = build_step_definitions()
