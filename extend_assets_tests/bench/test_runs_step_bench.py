"""Keep the runs-step benchmark working: a tiny local landing zone, and its section."""

from __future__ import annotations

from bench import runs_step_bench
from bench.__main__ import render

MACHINE = {"cpu": "cpu", "cores": 2, "python": "3.11", "platform": "linux", "date": "today"}


def test_the_runs_step_takes_every_landed_run_and_its_section_renders() -> None:
    row = runs_step_bench.bench_local(60)  # raises unless every run was taken
    assert (row["zone"], row["documents"], row["read_workers"]) == ("directory", 60, 1)
    text = render({"machine": MACHINE, "submission": [], "polling": [], "flatten": [],
                   "runs": [row, {**row, "zone": "s3 (moto)", "read_workers": 16}]})  # fmt: skip
    assert "## The runs step from landed events, without Dagster" in text
    assert "| 60 | s3 (moto) | 16 |" in text
