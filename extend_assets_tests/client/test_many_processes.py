"""Three processes, each configured at the account's limit, against the real emulator
enforcing it: every call succeeds (the 429s are absorbed). Counts only, never times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extend_assets.client import ExtendClient, ExtendError
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
GETS = 20


def worker(base_url: str, api_key: str, run_id: str, rate_store: str | None) -> None:
    """Run in a child: GETs until done, then print how many failed."""
    failed = 0
    with ExtendClient(
        api_key, base_url=base_url, requests_per_second=10, rate_limit_store=rate_store
    ) as client:
        for _ in range(GETS):
            try:
                client.get_workflow_run(run_id)
            except ExtendError:
                failed += 1
        print(json.dumps({"failed": failed, "requests": client.request_count}), flush=True)


def run_processes(rate_store: str | None) -> tuple[list[dict[str, int]], dict[str, int]]:
    """``PROCESSES`` children at the account's limit against an emulator enforcing it:
    their reports and the emulator's counters."""
    with EmulatorServer(port=0, requests_per_second=10) as emulator:
        with ExtendClient(emulator.api_key, base_url=emulator.base_url) as setup:
            run_id = setup.run_workflow(SAMPLE_WORKFLOW_ID, raw_texts=["Invoice Number: P-1"])[0].id
        code = (
            "from extend_assets_tests.client.test_many_processes import worker; "
            f"worker({emulator.base_url!r}, {emulator.api_key!r}, {run_id!r}, "
            f"{rate_store!r})"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(PROCESSES)
        ]
        reports = [json.loads(c.communicate(timeout=600)[0].splitlines()[-1]) for c in children]
        return reports, emulator.counters()


@pytest.mark.parametrize("shared", [False, True], ids=["adaptive", "shared-dir"])
def test_processes_at_the_account_limit_all_succeed(tmp_path: Path, shared: bool) -> None:
    reports, counters = run_processes(str(tmp_path) if shared else None)
    assert [r["failed"] for r in reports] == [0] * PROCESSES
    gets = sum(v for k, v in counters.items() if k.startswith("GET "))
    assert gets == sum(r["requests"] for r in reports)  # every 429 was retried and counted
    assert gets - counters.get("429", 0) == PROCESSES * GETS
