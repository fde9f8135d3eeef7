"""Benchmark: N processes on one account, each configured at the account's limit.

The emulator enforces 10 requests/s for the whole account (a token bucket, 429 with
``Retry-After: 1`` above it). Each of N worker processes makes a client at 10 req/s
and performs a fixed number of GETs on 4 threads, all starting together. Measured per
N and mode (``adaptive``: each process alone; ``shared``: plus the file-locked
schedule of one directory, one machine; ``postgres``: plus the schedule in a throwaway
PostgreSQL, each process with nothing else in common, as on separate machines):
requests sent, 429s, failed calls and the aggregate rate of successful requests as a
share of the limit.

.venv/bin/python -m bench.ratelimit_bench --processes 1,3,6 --gets 60
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from extend_assets.client import ExtendClient, ExtendError
from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 10.0
THREADS = 4
MODES = ("adaptive", "shared", "postgres")


def worker(base_url: str, api_key: str, run_id: str, gets: int, rate_store: str | None) -> None:
    """One process: wait for the go line on stdin, do ``gets`` GETs, print JSON."""
    logging.getLogger("extend_assets.client").setLevel(logging.ERROR)  # retries are counted
    client = ExtendClient(
        api_key, base_url=base_url, requests_per_second=LIMIT, rate_limit_store=rate_store
    )
    left = [gets]
    failed = [0]
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            try:
                client.get_workflow_run(run_id)
            except ExtendError:
                with lock:
                    failed[0] += 1

    sys.stdin.readline()
    started = time.time()
    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        json.dumps(
            {
                "started": started,
                "ended": time.time(),
                "requests": client.request_count,
                "failed": failed[0],
                "final_rate": client.send_rate,
            }
        ),
        flush=True,
    )
    client.close()


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL on loopback (the tests' helper); None where it is missing."""
    from extend_assets_tests.deployment.postgres import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    with PostgresServer(bindir) as server:
        yield server.url


def measure(processes: int, gets: int, mode: str, pg_url: str | None = None) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as rate_dir,
        EmulatorServer(port=0, requests_per_second=LIMIT) as emu,
    ):
        store = {"adaptive": None, "shared": rate_dir, "postgres": pg_url}[mode]
        with ExtendClient(emu.api_key, base_url=emu.base_url, requests_per_second=None) as c:
            run_id = c.run_workflow(SAMPLE_WORKFLOW_ID, raw_texts=["Invoice Number: R-1"])[0].id
        time.sleep(1.5)  # the account's bucket refills after the set-up call
        emu.reset_counters()
        code = (
            "from bench.ratelimit_bench import worker; "
            f"worker({emu.base_url!r}, {emu.api_key!r}, {run_id!r}, {gets}, "
            f"{store!r})"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for _ in range(processes)
        ]
        time.sleep(3.0 + 0.5 * processes)  # let every interpreter import before the go
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [
            json.loads(child.communicate(timeout=1800)[0].splitlines()[-1]) for child in children
        ]
        counters = emu.counters()
    requests = sum(r["requests"] for r in reports)
    throttled = counters.get("429", 0)
    failed = sum(r["failed"] for r in reports)
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    succeeded = requests - throttled
    return {
        "processes": processes,
        "mode": mode,
        "gets_per_process": gets,
        "requests": requests,
        "http_429": throttled,
        "share_429": round(throttled / requests, 4) if requests else 0.0,
        "failed_calls": failed,
        "seconds": round(seconds, 1),
        "aggregate_rate": round(succeeded / seconds, 2),
        "share_of_limit": round(succeeded / seconds / LIMIT, 4),
    }


def run(
    processes: list[int] | None = None, gets: int = 60, modes: tuple[str, ...] = MODES
) -> dict[str, Any]:
    rows = []
    with postgres_url() as pg_url:
        for mode in modes:
            if mode == "postgres" and pg_url is None:
                print("PostgreSQL not installed: no postgres rows", file=sys.stderr)
                continue
            rows += [measure(n, gets, mode, pg_url) for n in processes or [1, 3, 6, 12]]
    return {"limit": LIMIT, "threads_per_process": THREADS, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", default="1,3,6,12")
    parser.add_argument("--gets", type=int, default=60)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    processes = [int(n) for n in args.processes.split(",")]
    print(json.dumps(run(processes, args.gets, tuple(args.modes.split(",")))))


if __name__ == "__main__":
    main()
