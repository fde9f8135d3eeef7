"""Kill the submission step between Extend creating runs and the ledger recording them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from extend_assets.emulator import EmulatorServer

BATCH_POST = "POST /workflow_runs/batch"


def mark_dead_runs_failed(home: str) -> None:
    """What Dagster's run monitoring does for a worker that died: its run is FAILED.

    Without it the killed run stays STARTED, and its fresh intent counts as live
    (its POST could be in flight) until it is older than the staleness bound.
    """
    from dagster import DagsterInstance

    with DagsterInstance.from_config(home) as instance:
        for run in instance.get_runs():
            if not run.is_finished:
                instance.report_run_failed(run, "the run worker was killed (test)")


def kill_a_submission_mid_post(
    emulator: EmulatorServer, env: dict[str, str], partitions: list[str], tmp_path: Path
) -> None:
    """Run the submit job in another process and SIGKILL it once Extend created runs
    but before the process heard back (the answer is held back by a fault)."""
    script = textwrap.dedent(
        f"""
        from dagster import DagsterInstance
        from extend_assets.definitions import defs
        from extend_assets.cli.runner import range_tags
        job = defs.resolve_job_def("invoices_extend_submit")
        with DagsterInstance.get() as instance:
            job.execute_in_process(instance=instance, tags=range_tags({partitions!r}))
        """
    )
    emulator.set_faults(slow_after_commit_seconds=60)
    before = emulator.counters().get(BATCH_POST, 0)
    log = (tmp_path / "killed-submission.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            if emulator.counters().get(BATCH_POST, 0) > before and emulator.submissions():
                break
            time.sleep(0.1)
        assert worker.poll() is None, "the submission process ended before it could be killed"
        assert emulator.submissions(), "no batch reached the emulator before the kill"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        mark_dead_runs_failed(env["DAGSTER_HOME"])
    finally:
        if worker.poll() is None:
            worker.kill()
        log.close()
        emulator.clear_faults()
