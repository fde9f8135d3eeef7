"""A two-step job on the bundled location's executor, each step writing down which
process started it (loaded by reference, as a run worker loads a job)."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import job, op

from extend_assets.executor import forked_steps_executor

#: Where each step writes its parent process's command line, one file per step.
OUT_ENV = "FORKED_STEPS_OUT"


def parent_command_line() -> str:
    """This process's parent's command line, its arguments separated by spaces."""
    return Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@op
def where_am_i() -> None:
    Path(os.environ[OUT_ENV], f"{os.getpid()}.txt").write_text(parent_command_line())


@job(executor_def=forked_steps_executor())
def two_steps() -> None:
    where_am_i.alias("first")()
    where_am_i.alias("second")()
