"""A run in process leaves SIGTERM as it found it, also in a process started in the
background (SIGINT ignored), where Dagster would leave SIGTERM ignored."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from dagster import DagsterInstance, job, op

from extend_assets.cli.runner import sigterm_kept


@op
def one() -> int:
    return 1


@job
def tiny() -> None:
    one()


@pytest.fixture
def started_in_the_background() -> Iterator[None]:
    """SIGINT ignored, SIGTERM default: what ``command &`` gives a process."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_dagster_alone_leaves_sigterm_ignored(
    started_in_the_background: None, instance: DagsterInstance
) -> None:
    """Why the guard exists: without it, one run makes the process ignore SIGTERM."""
    assert tiny.execute_in_process(instance=instance).success
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN


def test_a_run_keeps_sigterm_as_it_was(
    started_in_the_background: None, instance: DagsterInstance
) -> None:
    with sigterm_kept():
        assert tiny.execute_in_process(instance=instance).success
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
