"""Benchmark: the run-status poller vs the naive per-batch list + GET per run pattern.

Per tick: the scan's list calls against ceil(runs read / 1000) + 1 (runs read = the
changed ones plus the overlap below the watermark that is read again as a guard, on
the first scans after a burst), the confirmation calls that close settled groups, and
the total against ceil(changed / 1000) + 1.

100k open runs (10 groups of 10 batches of 1000), 1% of them changing between
ticks, against an in-memory Extend (so the numbers are API calls and the
poller's own CPU time; the wall time a real tick would take is modelled from the
call count at a given request rate). It asserts nothing.

    .venv/bin/python -m bench.sensor_bench [--runs 100000] [--ticks 10] [--qps 10]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from extend_assets.sensing import PollerSettings, RunStatusPoller, SubmittedGroup
from extend_assets.sensing.cursor import SensorCursor
from extend_assets_tests.sensing.fakes import FakeExtend

NEXT = {"PENDING": "PROCESSING", "PROCESSING": "PROCESSED"}
UNSETTLED = {"PENDING", "PROCESSING", "CANCELLING", "NEEDS_REVIEW"}


def build(
    runs: int, per_batch: int, batches_per_group: int
) -> tuple[FakeExtend, list[SubmittedGroup]]:
    fake = FakeExtend()
    submissions = []
    batches: list[str] = []
    for _ in range(runs // per_batch):
        fake.advance(0.5)  # one batch POST after another
        batch, _ = fake.add_batch(per_batch)
        batches.append(batch)
    for number, start in enumerate(range(0, len(batches), batches_per_group)):
        group = batches[start : start + batches_per_group]
        submissions.append(
            SubmittedGroup(
                group_id=f"dagster-run-{number}",
                partitions=(f"2025-01-{number + 1:02d}",),
                batch_ids=tuple(group),
                run_ids=(),
                expected=len(group) * per_batch,
                submitted_at=fake.now - 60,
            )
        )
    return fake, submissions


def change(fake: FakeExtend, rng: random.Random, fraction: float) -> int:
    open_runs = [r for r in fake.runs.values() if r.status in NEXT]
    picked = rng.sample(open_runs, min(len(open_runs), int(len(fake.runs) * fraction)))
    fake.advance(30)
    for run in picked:
        fake.set_status([run.id], NEXT[run.status])
    return len(picked)


def naive_tick(fake: FakeExtend, batches: list[str]) -> tuple[int, float]:
    """List each open batch (all pages), then GET every run not yet settled."""
    calls = 0
    started = time.perf_counter()
    for batch in batches:
        token = None
        while True:
            page = fake.list_workflow_runs_page(batch_id=batch, page_size=1000, page_token=token)
            calls += 1
            for run in page.runs:
                if run.status in UNSETTLED:
                    fake.get_workflow_run(run.id)
                    calls += 1
            token = page.next_page_token
            if not token:
                break
    return calls, time.perf_counter() - started


def run(
    runs: int = 100_000, ticks: int = 5, change_fraction: float = 0.01, qps: float = 10.0
) -> dict[str, Any]:
    """Ticks after a warm-up; per tick the poller's calls against the bound and the naive way."""
    rng = random.Random(7)
    fake, submissions = build(runs, 1000, 10)
    all_batches = [b for s in submissions for b in s.batch_ids]
    settings = PollerSettings(workflow_id="wf", tick_budget_seconds=1e9)
    fake.advance(30)
    cursor = SensorCursor.from_json(None)
    poller = RunStatusPoller(fake, cursor, settings, lambda: fake.now)
    poller.add_submissions(submissions)
    warm = poller.tick()  # reads the creation burst once
    cursor_json = cursor.to_json()
    rows = []
    for number in range(1, ticks + 1):
        changed = change(fake, rng, change_fraction)
        cursor = SensorCursor.from_json(cursor_json)
        poller = RunStatusPoller(fake, cursor, settings, lambda: fake.now)
        started = time.perf_counter()
        report = poller.tick()
        elapsed = time.perf_counter() - started
        cursor_json = cursor.to_json()
        naive_calls, naive_elapsed = naive_tick(fake, all_batches)
        read = report.runs_changed + report.overlap_rereads
        rows.append(
            {
                "tick": number,
                "changed": changed,
                "runs_read": read,
                "poller_calls": report.list_calls + report.get_calls,
                "scan_calls": report.scan_calls,
                "scan_bound": -(-read // 1000) + 1 if report.scan_calls else 0,
                "confirm_calls": report.list_calls + report.get_calls - report.scan_calls,
                "bound": -(-changed // 1000) + 1,
                "poller_cpu_ms": round(elapsed * 1000, 1),
                "naive_calls": naive_calls,
                "naive_cpu_ms": round(naive_elapsed * 1000, 1),
                "poller_seconds_at_qps": round((report.list_calls + report.get_calls) / qps, 1),
                "naive_seconds_at_qps": round(naive_calls / qps, 1),
                "cursor_bytes": len(cursor_json),
            }
        )
    return {
        "runs": runs,
        "change_fraction": change_fraction,
        "qps": qps,
        "warm_up_list_calls": warm.list_calls,
        "ticks": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--qps", type=float, default=10.0, help="request rate used to model time")
    args = parser.parse_args()
    print(json.dumps(run(args.runs, args.ticks, args.change, args.qps), indent=2))


if __name__ == "__main__":
    main()
