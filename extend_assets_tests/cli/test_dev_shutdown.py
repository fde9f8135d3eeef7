"""`extend-assets dev` stops dagster dev's whole group, even when interrupted twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

from extend_assets.cli.dev import shutdown


def test_a_second_interrupt_during_the_grace_kills_the_group() -> None:
    # A child that ignores SIGINT, so the graceful stop would wait out its whole grace.
    code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"
    child = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdout.readline().strip() == b"ready"

    def second_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, second_interrupt)
    signal.alarm(1)
    try:
        shutdown(child, grace_seconds=60)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert child.returncode == -signal.SIGKILL
