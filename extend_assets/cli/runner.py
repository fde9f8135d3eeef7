"""Drive one workflow's definitions in process: submit, tick the sensor, run what it asks.

Used by the offline demo and by the end-to-end tests, so both exercise the same
Dagster machinery a deployment uses (jobs, partitions, the sensor and its cursor),
minus the daemon.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    RunRequest,
    SensorResult,
    build_sensor_context,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

Say = Callable[[str], None]


class PipelineRunError(RuntimeError):
    """A run of the pipeline failed; the message carries the step's own error."""


@dataclass
class SettleReport:
    ticks: int = 0
    outputs_runs: int = 0
    settled: list[str] = field(default_factory=list)
    run_keys: list[str] = field(default_factory=list)


def range_tags(partitions: Sequence[str]) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: partitions[0],
        ASSET_PARTITION_RANGE_END_TAG: partitions[-1],
    }


def partitions_of(request: RunRequest, all_partitions: Sequence[str]) -> list[str]:
    """The partitions a run request covers: its key, or its range tags."""
    if request.partition_key:
        return [request.partition_key]
    tags = request.tags or {}
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return [p for p in all_partitions if start <= p <= end]
    return []


def first_failure(result: ExecuteInProcessResult) -> str:
    """The innermost error of the first failed step: the user's own message."""
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            while error is not None and getattr(error, "cause", None) is not None:
                error = error.cause
            if error is not None:
                return f"{error.cls_name}: {str(error.message).strip()}"
    return "see the Dagster event log"


@contextmanager
def sigterm_kept() -> Iterator[None]:
    """Leaves SIGTERM as the run found it.

    An in-process run on the main thread ends by giving SIGTERM whatever SIGINT does
    (Dagster maps one to the other for k8s). In a process started in the background,
    SIGINT is ignored, so SIGTERM became ignored too: the process could no longer be
    stopped with ``kill``, and every later run off the main thread inherited the ignored
    signal into the ``tail`` children that mirror its step logs, which then outlived
    ``terminate()`` and held each step's end for Dagster's 30 s clean-up bound.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)


class PipelineRunner:
    """Runs the submit job, the run-status sensor and the outputs job of one workflow."""

    def __init__(
        self,
        defs: Definitions,
        instance: DagsterInstance,
        name: str = "invoices",
        *,
        say: Say | None = None,
        resources: dict[str, Any] | None = None,
        log_level: str | None = None,
    ) -> None:
        self.defs = defs
        self.instance = instance
        self.submit_job = defs.resolve_job_def(f"{name}_extend_submit")
        self.outputs_job = defs.resolve_job_def(f"{name}_extend_outputs")
        self.sensor = defs.resolve_sensor_def(f"{name}_extend_run_status_sensor")
        self.resources = resources if resources is not None else dict(defs.resources or {})
        self.cursor: str | None = None
        self._say = say or (lambda line: None)
        self._executed_run_keys: set[str] = set()
        # Dagster's console logger prints every event at DEBUG; the demo wants less.
        self._loggers: dict[str, Any] = (
            {"loggers": {"console": {"config": {"log_level": log_level}}}} if log_level else {}
        )

    def submit(
        self, partitions: Sequence[str], *, reprocess: str = "none", raise_on_error: bool = True
    ) -> ExecuteInProcessResult:
        """One run over ``partitions`` (a single-run backfill when there are several)."""
        run_config: dict[str, Any] = (
            {"ops": {}} if reprocess == "none" else self._reprocess_config(reprocess)
        )
        run_config.update(self._loggers)
        kwargs: dict[str, Any] = {"instance": self.instance, "raise_on_error": False}
        if len(partitions) == 1:
            kwargs["partition_key"] = partitions[0]
        else:
            kwargs["tags"] = range_tags(partitions)
        with sigterm_kept():
            result = self.submit_job.execute_in_process(run_config=run_config, **kwargs)
        if raise_on_error and not result.success:
            raise PipelineRunError(f"the submission run failed: {first_failure(result)}")
        return result

    def _reprocess_config(self, reprocess: str) -> dict[str, Any]:
        batches = [
            node.name
            for node in self.submit_job.graph.node_defs
            if node.name.endswith("extend_workflow_batches")
        ]
        return {"ops": {name: {"config": {"reprocess": reprocess}} for name in batches}}

    def tick(self) -> SensorResult | Any:
        with build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources=self.resources,
            definitions=self.defs,
        ) as context:
            result = self.sensor.evaluate_tick(context)
        if result.cursor is not None:
            self.cursor = result.cursor
        return result

    def run_outputs(self, request: RunRequest) -> ExecuteInProcessResult:
        tags = {
            k: v
            for k, v in (request.tags or {}).items()
            if k.startswith("dagster/asset_partition_range")
        }
        with sigterm_kept():
            result = self.outputs_job.execute_in_process(
                run_config=dict(self._loggers),
                instance=self.instance,
                partition_key=request.partition_key,
                tags=tags,
                raise_on_error=False,
            )
        if not result.success:
            raise PipelineRunError(f"the outputs run failed: {first_failure(result)}")
        return result

    def settle(
        self,
        partitions: Sequence[str],
        *,
        max_ticks: int = 200,
        pause_seconds: float = 0.1,
    ) -> SettleReport:
        """Tick until the outputs of every partition in ``partitions`` were materialized."""
        report = SettleReport()
        waiting = set(partitions)
        for tick in range(1, max_ticks + 1):
            report.ticks = tick
            result = self.tick()
            for request in result.run_requests or []:
                if request.run_key and request.run_key in self._executed_run_keys:
                    continue
                if request.run_key:
                    self._executed_run_keys.add(request.run_key)
                    report.run_keys.append(request.run_key)
                covered = partitions_of(request, sorted(set(partitions) | set(report.settled)))
                self._say(
                    f"  tick {tick}: {', '.join(covered) or 'a partition'} settled; building tables..."
                )
                self.run_outputs(request)
                report.outputs_runs += 1
                report.settled.extend(p for p in covered if p not in report.settled)
                waiting -= set(covered)
            if not waiting:
                return report
            if tick % 10 == 0:
                self._say(f"  tick {tick}: still waiting for {', '.join(sorted(waiting))}")
            time.sleep(pause_seconds)
        raise PipelineRunError(
            f"runs did not settle within {max_ticks} sensor ticks; waiting for {sorted(waiting)}"
        )
