"""Submission runs in separate processes on one Dagster instance, released together."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dagster import DagsterInstance
    from extend_assets.definitions import defs
    from extend_assets.cli.runner import range_tags

    go, partitions = Path(sys.argv[1]), sys.argv[2:]
    job = defs.resolve_job_def("invoices_extend_submit")
    Path(str(go) + ".ready").touch()
    while not go.exists():
        time.sleep(0.005)
    with DagsterInstance.get() as instance:
        kwargs = {"partition_key": partitions[0]} if len(partitions) == 1 else {
            "tags": range_tags(partitions)
        }
        result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    sys.exit(0 if result.success else 1)
    """
)


def start_submission(
    env: dict[str, str], go: Path, partitions: list[str], log: Path
) -> subprocess.Popen[bytes]:
    """A process that loads the definitions, then submits ``partitions`` once ``go`` exists."""
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(go), *partitions],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(go: Path, timeout: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not Path(str(go) + ".ready").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the submission process for {go.name} never got ready")
        time.sleep(0.05)
