"""Keep the benchmarks working: run the cheap ones at a tiny size and render the report.

They measure; these checks only look at the shape and the counts, never at times.
"""

from __future__ import annotations

from bench import flatten_bench, profile, sensor_bench
from bench.__main__ import render


def test_flatten_bench_counts_rows_for_every_contender() -> None:
    result = flatten_bench.run(50)
    for contender in ("flatten_py", "json_normalize", "hand_loop"):
        assert result[contender]["document_rows"] == 50
        assert result[contender]["line_item_rows"] == 50 * flatten_bench.LINE_ITEMS


def test_sensor_bench_stays_within_the_bound_on_a_quiet_workflow() -> None:
    result = sensor_bench.run(runs=2000, ticks=2, change_fraction=0.01)
    for tick in result["ticks"]:
        assert tick["poller_calls"] <= tick["bound"]
        assert tick["naive_calls"] >= 2000 * 0.99  # the seeds' pattern: every open run


def test_sensor_bench_closes_everything_with_one_call_per_status_when_all_change() -> None:
    ticks = sensor_bench.run(runs=3000, ticks=3, change_fraction=1.0)["ticks"]
    assert all(t["scan_calls"] <= t["scan_bound"] for t in ticks)
    assert [t["confirm_calls"] for t in ticks] == [0, 4, 0]  # PENDING..NEEDS_REVIEW, once


MACHINE = {"cpu": "cpu", "cores": 2, "python": "3.11", "platform": "linux", "date": "today"}


def test_the_report_renders() -> None:
    flat = flatten_bench.run(20)
    polling = sensor_bench.run(runs=1000, ticks=1, change_fraction=0.01)
    submission = {"documents": 1000, "seconds": 1.0, "documents_per_second": 1000,
                  "cpu_ms_per_document": 0.5, "batch_posts": 1, "minimum_posts": 1, "peak_rss_mib": 1.0}  # fmt: skip
    fetch = {"documents": 10, "configured_rate": 5.0, "emulator_latency_ms": 20.0,
             "achieved_rate": 4.9, "share_of_limit": 0.98, "http_429": 0}  # fmt: skip
    e2e = {"documents": 10, "wall_seconds": 1.0, "submit_run_seconds": 0.2, "wait_for_extend_seconds": 0.5,
           "outputs_runs_seconds": 0.3, "own_share": 0.5, "emulator_share": 0.5,
           "emulator_latency_s_per_run": 0.02, "emulator_workers": 4}  # fmt: skip
    profiles = [profile.run("flatten", 200)]
    text = render({"machine": MACHINE, "submission": [submission], "polling": [polling],
                   "flatten": [flat], "fetch": fetch, "e2e": e2e, "profiles": profiles})  # fmt: skip
    assert "| 1,000 | 1.0 | 1,000 | 0.5 | 1 | 1 | 1.0 |" in text
    assert "| flatten | 200 | line-items table |" in text
    assert text.count("\n## ") == 6


def test_an_interrupted_run_still_renders_what_it_measured() -> None:
    text = render({"machine": MACHINE, "submission": [], "polling": [], "flatten": []})
    assert text.count("\n## ") == 3 and text.endswith("\n")


def test_the_profile_attributes_flattening_to_its_two_tables() -> None:
    shares = profile.run("flatten", 300)["shares"]
    assert set(shares) == set(profile.HOT_PATHS["flatten"])
    tables = shares["documents table"] + shares["line-items table"]
    assert 0.5 < tables <= 1.0  # the two tables are nearly all of the profiled work


def test_the_outputs_section_renders_both_modes_side_by_side() -> None:
    def mode(name: str, gets: int) -> dict[str, object]:
        return {"mode": name, "seconds": 2.0, "peak_rss_mib": 300.0, "documents_per_second": 500,
                "calls": {"list": 1, "get": gets, "batch": 0}, "gets_per_run": gets / 1000,
                "seconds_at_10_rps": (1 + gets) / 10, "runs_from_events": 1000 - gets,
                "runs_fetched_by_get": gets}  # fmt: skip

    outputs = [
        {"documents": 1000, "polling": mode("polling", 1000), "webhooks": mode("webhooks", 0)}
    ]
    text = render({"machine": MACHINE, "submission": [], "polling": [], "flatten": [],
                   "outputs": outputs})  # fmt: skip
    assert "| 1,000 | polling | 1 | 1,000 | 0 | 1.0 |" in text
    assert "| 1,000 | webhooks | 1 | 0 | 0 | 0.0 |" in text


def test_the_ratelimit_section_renders_each_mode_and_size() -> None:
    rows = [
        {"processes": n, "mode": mode, "gets_per_process": 60, "requests": 60 * n + 3,
         "http_429": 3, "share_429": 3 / (60 * n + 3), "failed_calls": 0, "seconds": 6.0 * n,
         "aggregate_rate": 9.5, "share_of_limit": 0.95}
        for mode in ("adaptive", "shared", "postgres") for n in (1, 12)
    ]  # fmt: skip
    text = render({"machine": MACHINE, "submission": [], "polling": [], "flatten": [],
                   "ratelimit": {"limit": 10.0, "threads_per_process": 4, "rows": rows}})  # fmt: skip
    assert "## One account, many processes" in text
    assert "| 12 | shared | 723 | 3 | 0.4% | 0 | 72.0 | 9.5 | 95% |" in text
    assert "| 12 | postgres | 723 | 3 | 0.4% | 0 | 72.0 | 9.5 | 95% |" in text
