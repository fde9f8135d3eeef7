"""Submission runs in separate processes on one Dagster instance, released together."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, time
    from pathlib import Path
    from dagster import DagsterInstance
    from extend_assets.cli.runner import range_tags

    go, defs_ref, jobs, partitions = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
    module, attr = defs_ref.split(":")
    defs = getattr(importlib.import_module(module), attr)
    resolved = [defs.resolve_job_def(name) for name in jobs]
    Path(str(go) + ".ready").touch()
    while not go.exists():
        time.sleep(0.005)
    kwargs = {"partition_key": partitions[0]} if len(partitions) == 1 else {
        "tags": range_tags(partitions)
    }
    ok = True
    with DagsterInstance.get() as instance:
        for job in resolved:
            result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
            ok = ok and result.success
    sys.exit(0 if ok else 1)
    """
)


def start_submission(
    env: dict[str, str],
    go: Path,
    partitions: Sequence[str],
    log: Path,
    *,
    defs_ref: str = "extend_assets.definitions:defs",
    jobs: Sequence[str] = ("invoices_extend_submit",),
) -> subprocess.Popen[bytes]:
    """A process that loads the definitions, then runs ``jobs`` over ``partitions`` once
    ``go`` exists."""
    import json

    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(go), defs_ref, json.dumps(list(jobs)), *partitions],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(go: Path, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(str(go) + ".ready").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the submission process for {go.name} never got ready")
        time.sleep(0.05)
