"""Benchmark: the emulator holding many runs: create, process at zero latency, list.

.venv/bin/python -m bench.emulator_bench --runs 100000
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from extend_assets.client import ExtendClient
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer


def run(runs: int = 100_000) -> dict[str, Any]:
    with (
        EmulatorServer(port=0, runs_per_minute=0) as emu,
        ExtendClient(emu.api_key, base_url=emu.base_url, requests_per_second=None) as client,
    ):
        started = time.perf_counter()
        for start in range(0, runs, 1000):
            size = min(1000, runs - start)
            client.batch_run_workflow(
                SAMPLE_WORKFLOW_ID,
                [
                    {"rawText": f"Invoice Number: E-{start + i}\nTotal: 1.00 USD\n"}
                    for i in range(size)
                ],
            )
        created = time.perf_counter() - started
        started = time.perf_counter()
        emu.set_throughput(runs_per_minute=None)
        idle = emu.wait_idle(timeout=1800)
        processed = time.perf_counter() - started
        started = time.perf_counter()
        pages = 0
        seen = 0
        token = None
        while True:
            page = client.list_workflow_runs_page(
                workflow_id=SAMPLE_WORKFLOW_ID,
                sort_by="createdAt",
                page_size=1000,
                page_token=token,
            )
            pages += 1
            seen += len(page.runs)
            token = page.next_page_token
            if not token:
                break
        listed = time.perf_counter() - started
    return {
        "runs": runs,
        "create_runs_per_second": round(runs / created),
        "processing_runs_per_second": round(runs / processed) if idle else None,
        "list_pages": pages,
        "listed_runs": seen,
        "list_seconds": round(listed, 2),
        "list_pages_per_second": round(pages / listed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100_000)
    print(json.dumps(run(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
