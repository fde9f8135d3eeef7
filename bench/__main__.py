"""``python -m bench`` (or ``make bench``): every benchmark, side by side, in one run.

Writes ``bench/results.json`` and ``BENCHMARKS.md``. Each measurement runs in its own
process (clean peak memory); the servers run in yet another. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(module: str, code: str, timeout: float = 3600) -> Any:
    """Run ``code`` (which prints JSON last) in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", f"import json; from {module} import *; {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{module}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pipeline(what: str, documents: int, rate: float = 50.0) -> Any:
    return child(
        "bench.pipeline_bench",
        f"print(json.dumps(bench_{what}({documents}{', ' + str(rate) if what == 'fetch' else ''})))",
    )


def commit_of(root: str) -> str:
    """The short commit of a checkout (``+`` when its work tree has changes)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                              check=False)  # fmt: skip
        return done.stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain") else "")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--fetch-documents", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--e2e-documents", type=int, default=300)
    parser.add_argument("--profile-documents", type=int, default=10_000)
    parser.add_argument("--profile-before", default=None,
                        help="root of another checkout (e.g. `git worktree add /tmp/before "
                        "main`): its outputs job is profiled too, beside this one")  # fmt: skip
    parser.add_argument("--flatten-limit", type=int, default=20_000,
                        help="larger sizes skip the flatten benchmark (memory)")  # fmt: skip
    parser.add_argument("--profile-what", default="submission,flatten,outputs",
                        help="which profiles to measure again (the others are kept)")  # fmt: skip
    parser.add_argument("--outputs-before", default=None,
                        help="root of another checkout: its outputs job is measured on the "
                        "same set-up, labelled `before: <commit>`")  # fmt: skip
    parser.add_argument("--outputs-copied", action="store_true",
                        help="the outputs section on a copied partition (webhooks only, no "
                        "emulator, S3 or receiver: the invoice run landed N times with fresh "
                        "ids, the listing generated): peak RSS and step times at 100k in "
                        "minutes instead of ~35 min of set-up; API calls not measured")  # fmt: skip
    parser.add_argument("--outputs-repeat", type=int, default=1,
                        help="with --outputs-copied: runs of each checkout per size, before "
                        "and after alternating; each figure is their median")  # fmt: skip
    parser.add_argument("--outputs-copied-work", default=None,
                        help="with --outputs-copied: keep each size's copied partition in this "
                        "directory template (`{documents}` is replaced) and reuse it next time")  # fmt: skip
    parser.add_argument("--outputs-sizes", default=None,
                        help="sizes of the outputs benchmark (default: --sizes)")  # fmt: skip
    parser.add_argument("--outputs-modes", default="polling,webhooks",
                        help="completion modes of the outputs benchmark (webhooks alone skips "
                        "polling's slow runs step of N GETs)")  # fmt: skip
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated sections to measure again (submission, polling, flatten, "
        "outputs, runs, fetch, emulator, e2e, profiles, ratelimit); the others are kept from "
        "--out",
    )
    parser.add_argument("--runs-sizes", default="10000,100000",
                        help="sizes of the runs-step benchmark (local landing zone)")  # fmt: skip
    parser.add_argument("--runs-s3-documents", type=int, default=10_000,
                        help="events in the S3 landing zone of the runs-step benchmark")  # fmt: skip
    parser.add_argument("--runs-before", default=None,
                        help="root of another checkout: its runs step is measured too")  # fmt: skip
    parser.add_argument("--ratelimit-gets", type=int, default=60,
                        help="GETs per process in the shared rate-limit benchmark")  # fmt: skip
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: write the markdown from --out again")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    if args.render_only:
        Path(args.markdown).write_text(render(json.loads(Path(args.out).read_text())))
        print(f"wrote {args.markdown} from {args.out}")
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    outputs_sizes = [int(s) for s in (args.outputs_sizes or args.sizes).split(",") if s]
    only = set(args.only.split(",")) if args.only else None
    # The copied partition's rows are a section of their own, beside the emulator's.
    outputs_key = "outputs_copied" if args.outputs_copied else "outputs"
    if only is not None and args.outputs_copied and "outputs" in only:
        only = (only - {"outputs"}) | {"outputs_copied"}
    fresh: dict[str, Any] = {"submission": [], "polling": [], "flatten": [], outputs_key: []}
    results: dict[str, Any] = {"machine": machine(), **fresh}
    if only is not None and Path(args.out).exists():
        kept = json.loads(Path(args.out).read_text())
        results = {**kept, **{k: v for k, v in fresh.items() if k in only}}
        results.setdefault("outputs", [])
        results.setdefault("outputs_copied", [])
        results["machine_by_section"] = {
            **kept.get("machine_by_section", {}),
            **{k: machine() for k in only},
        }

    def wanted(section: str) -> bool:
        return only is None or section in only

    def save() -> None:
        """Written after every measurement, so an interrupted run keeps what it measured."""
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        Path(args.markdown).write_text(render(results))

    for size in sizes if wanted("submission") or wanted("polling") or wanted("flatten") else []:
        if wanted("submission"):
            print(f"submission at {size}...", flush=True)
            results["submission"].append(pipeline("submission", size))
            save()
        for fraction in (0.01, 1.0) if wanted("polling") else ():
            print(f"polling at {size}, {fraction:.0%} changing...", flush=True)
            results["polling"].append(
                child("bench.sensor_bench", f"print(json.dumps(run({size}, 3, {fraction})))")
            )
            save()
        if not wanted("flatten"):
            continue
        if size > args.flatten_limit:
            # Each sample run is ~27 KB of JSON (per-field metadata and citations): 100k of
            # them need well over 20 GB as Python objects before flattening even starts.
            results["flatten_skipped"] = sorted({*results.get("flatten_skipped", []), size})
            continue
        print(f"flatten at {size}...", flush=True)
        results["flatten"].append(child("bench.flatten_bench", f"print(json.dumps(run({size})))"))
        save()

    def work_of(size: int) -> str | None:
        template = args.outputs_copied_work
        return template.replace("{documents}", str(size)) if template else None

    for size in outputs_sizes if wanted(outputs_key) else []:
        modes = tuple(m for m in args.outputs_modes.split(",") if m)
        shown = "copied, webhooks" if args.outputs_copied else " and ".join(modes)
        print(f"outputs at {size}, {shown}...", flush=True)
        # 100k: ~30 min of set-up (the emulator runs 100k documents, ~100/s) + both runs
        measured = child(
            "bench.outputs_bench",
            f"print(json.dumps(bench_copied({size}, before={args.outputs_before!r}, "
            f"work={work_of(size)!r}, repeat={args.outputs_repeat})))"
            if args.outputs_copied
            else f"print(json.dumps(bench_outputs({size}, {modes!r}, before={args.outputs_before!r})))",
            4 * 3600,
        )
        earlier = measured.pop("before", None)
        if earlier:
            label = f"before: {commit_of(args.outputs_before)}"
            results[outputs_key].append({"documents": size, "label": label, **earlier})
        results[outputs_key].append({**measured, "label": f"after: {commit_of(str(ROOT))}"}
                                  if earlier else measured)  # fmt: skip
        save()
    if wanted("runs"):
        print("runs step from landed events...", flush=True)
        results["runs"] = runs_step_rows(
            [int(s) for s in args.runs_sizes.split(",") if s],
            args.runs_s3_documents,
            args.runs_before,
        )
        save()
    if wanted("fetch"):
        print("output fetch...", flush=True)
        results["fetch"] = pipeline("fetch", args.fetch_documents, args.rate)
        save()
    if wanted("emulator"):
        print("emulator at scale...", flush=True)
        results["emulator"] = child("bench.emulator_bench", f"print(json.dumps(run({max(sizes)})))")
        save()
    if wanted("e2e"):
        print("end to end...", flush=True)
        results["e2e"] = pipeline("e2e", args.e2e_documents)
        save()
    if wanted("ratelimit"):
        print("one account, many processes...", flush=True)
        results["ratelimit"] = child(
            "bench.ratelimit_bench", f"print(json.dumps(run(None, {args.ratelimit_gets})))"
        )
        save()
    if wanted("profiles"):
        print("profiles...", flush=True)
        profile_size = min(max(sizes), args.profile_documents)
        again = args.profile_what.split(",")
        kept = [p for p in results.get("profiles") or [] if p["what"] not in again]
        results["profiles"] = kept + [
            child("bench.profile", f"print(json.dumps(run({what!r}, {profile_size})))")
            for what in again
        ]
        if args.profile_before and "outputs" in again:
            before = child(
                "bench.profile",
                f"print(json.dumps(run_code('outputs', {profile_size}, {args.profile_before!r})))",
            )
            results["profiles"].append(
                {**before, "label": f"before: {commit_of(args.profile_before)}"}
            )
        save()
    print(f"wrote {args.out} and {args.markdown}")


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"`python -m bench` (or `make bench`) on {m['cpu']}, {m['cores']} cores, Python "
        f"{m['python']}, {m['platform']}, {m['date']}. Raw numbers: `bench/results.json`.",
        "Servers (local S3, emulator) run in another process, so CPU and memory are the "
        "pipeline's own. No benchmark asserts anything.",
        "",
        "## Submission: list + presign + batch POST (one partition, one Dagster run)",
        "",
        "| documents | seconds | documents/s | CPU ms/document | batch POSTs | minimum ⌈N/1000⌉ | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in r["submission"]:
        lines.append(
            f"| {s['documents']:,} | {s['seconds']} | {s['documents_per_second']:,} | "
            f"{s['cpu_ms_per_document']} | {s['batch_posts']} | {s['minimum_posts']} | {s['peak_rss_mib']} |"
        )
    lines += [
        "",
        "## Status polling: the sensor's calls per tick against the bound and the seeds' pattern",
        "",
        "The seeds' pattern lists every open batch, then GETs every unsettled run. Time at",
        "10 requests/s (the PAYG limit) is modelled from the call counts. The scan reads the",
        "changed runs plus, on the first scans after a burst, the overlap below the watermark",
        "again (a guard against late commits); confirmation calls close settled groups (one",
        "per unsettled status for the whole workflow when nothing of it is left open).",
        "",
        "| open runs | changing | tick | changed | runs read | scan calls | ⌈read/1000⌉+1 | confirm calls | total calls | ⌈changed/1000⌉+1 | seeds' calls | sensor s @10/s | seeds' s @10/s | sensor CPU ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r["polling"]:
        for t in p["ticks"]:
            lines.append(
                f"| {p['runs']:,} | {p['change_fraction']:.0%} | {t['tick']} | {t['changed']:,} | "
                f"{t.get('runs_read', '-')} | {t.get('scan_calls', '-')} | "
                f"{t.get('scan_bound', '-')} | {t.get('confirm_calls', '-')} | "
                f"{t['poller_calls']} | {t['bound']} | {t['naive_calls']:,} | "
                f"{t['poller_seconds_at_qps']} | {t['naive_seconds_at_qps']} | {t['poller_cpu_ms']} |"
            )
    lines += [
        "",
        "## Flattening: `flatten.py` against pandas (20-field invoice, 10 line items)",
        "",
        "| documents | flatten.py docs/s | json_normalize docs/s | hand loop docs/s | speed-up vs json_normalize | vs hand loop | flatten.py peak / final frames |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in r["flatten"]:
        jn = f.get("json_normalize")
        lines.append(
            f"| {f['documents']:,} | {f['flatten_py']['documents_per_second']:,} | "
            f"{jn['documents_per_second'] if jn else 'skipped (memory)'} | "
            f"{f['hand_loop']['documents_per_second']:,} | {f.get('speedup_vs_json_normalize', '-')} | "
            f"{f['speedup_vs_hand_loop']} | {f['flatten_py']['peak_over_final']} |"
        )
    for size in r.get("flatten_skipped", []):
        lines += [
            "",
            f"This in-memory comparison is not run at {size:,} documents: each sample run is "
            "~27 KB of JSON, so holding all of them as Python objects (what json_normalize "
            "needs) exceeds this machine's memory. The pipeline itself streams them: see the "
            "outputs job at that size below.",
        ]
    lines += [*outputs_section(r.get("outputs"), r.get("machine_by_section", {}).get("outputs"))]
    lines += [
        *copied_section(
            r.get("outputs_copied"), r.get("machine_by_section", {}).get("outputs_copied")
        )
    ]
    lines += [*runs_section(r.get("runs"), r.get("machine_by_section", {}).get("runs"))]
    lines += [*fetch_section(r.get("fetch")), *e2e_section(r.get("e2e"))]
    lines += [*emulator_section(r.get("emulator")), *profile_section(r.get("profiles"))]
    lines += [
        *ratelimit_section(r.get("ratelimit"), r.get("machine_by_section", {}).get("ratelimit"))
    ]
    return "\n".join(lines) + "\n"


def outputs_section(outputs: list[dict[str, Any]] | None, when: dict[str, Any] | None) -> list[str]:
    if not outputs:
        return []
    stamp = f" (measured {when['date']})" if when else ""
    befores = [o[m].get("rss_before_run_mib") for o in outputs for m in MODES if m in o]
    start = max((b for b in befores if b), default="?")
    lines = [
        "",
        f"## Outputs of one partition: polling against webhooks{stamp}",
        "",
        "The outputs job (runs, documents, line items) of one partition of N invoices "
        "(8 fields, 4 line items, ~24 KB of JSON per run), run once per completion mode "
        "in a fresh process. API calls are the emulator's counts; the time at 10 requests/s "
        "(the PAYG limit) is computed from them. Raw runs are streamed to gzip JSONL files in "
        "chunks of 250 in both modes; in webhook mode they come from the events the real "
        "receiver landed, and only runs with no event would be fetched. Peak RSS is the "
        f"process's own (`VmHWM`; {start} MiB before the job, with Dagster, pandas and "
        "DuckDB imported); the three step columns are the highest RSS sampled (every 0.5 s) "
        "while each step ran, all three steps running in one process one after another. "
        "Labelled rows (`before: <commit>` / `after: <commit>`): another checkout "
        "(`--outputs-before`, through `BENCH_CODE`) measured on the same set-up, each mode's "
        "`before` run right before its `after` run, so the two share the machine's load. "
        "Documents/s per step: N over the step's wall time (start to success, from the "
        "run's event log), reading the raw runs and writing the table included.",
        "",
        "| documents | mode | list calls | GET calls | batch calls | GETs per settled run | "
        "s @10 req/s | runs from events | runs by GET | wall s | documents/s | peak RSS MiB | "
        "runs step MiB | documents step MiB | line-items step MiB | "
        "runs step docs/s | documents step docs/s | line-items step docs/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outputs:
        for mode in ("polling", "webhooks"):
            if mode not in o:
                continue
            m = o[mode]
            c = m["calls"]
            shown = mode + (f" ({o['label']})" if o.get("label") else "")
            lines.append(
                f"| {o['documents']:,} | {shown} | {c['list']:,} | {c['get']:,} | {c['batch']:,} | "
                f"{m['gets_per_run']} | {m['seconds_at_10_rps']:,} | {m['runs_from_events']:,} | "
                f"{m['runs_fetched_by_get']:,} | {m['seconds']} | {m['documents_per_second']:,} | "
                f"{m['peak_rss_mib']} | {' | '.join(_step_peaks(m))} | "
                f"{' | '.join(_step_rates(m, o['documents']))} |"
            )
    return lines


def copied_section(rows: list[dict[str, Any]] | None, when: dict[str, Any] | None) -> list[str]:
    """Memory and step speed of the outputs job on a copied partition, 10k to 100k."""
    if not rows:
        return []
    stamp = f" (measured {when['date']})" if when else ""
    lines = [
        "",
        f"## Outputs of one partition at 100k, on a copied partition{stamp}",
        "",
        "`python -m bench --only outputs --outputs-copied`: the outputs job in webhook mode on "
        "a partition made by landing the benchmark's invoice run N times with fresh ids (no "
        "emulator, S3 or receiver; the batch listing is generated, so no API call is "
        "measured). Each row runs in a fresh process; `before` and `after` share one set-up "
        "and run back to back. Peak RSS is `VmHWM`; the step columns are the highest RSS "
        "sampled every 0.1 s while each step ran; CPU s is the job's process time. The job is "
        "launched as a run is (Dagster's `execute_job` of the job loaded by reference), its "
        "three steps in the measuring process (the in-process executor), so nothing is held "
        "but what the steps hold (`execute_in_process` would also keep every step's output "
        "until the job ends). Growth: the peak's increase from one size to the next, per "
        "document. A row marked `median of N` (`--outputs-repeat N`) gives every figure as the "
        "median of N such runs, before and after taking turns to go first; a single run's "
        "step time varies by 10-20% from one run to the next.",
        "",
        "| documents | code | wall s | CPU s | peak RSS MiB | runs step MiB | documents step MiB "
        "| line-items step MiB | runs step docs/s | documents step docs/s "
        "| line-items step docs/s | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    peaks: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        m = row.get("webhooks") or {}
        if not m:
            continue
        label = row.get("label") or "this checkout"
        peaks.setdefault(label.split(":")[0], []).append((row["documents"], m["peak_rss_mib"]))
        repeats = int(m.get("repeats", 1))
        shown = f"{label} (median of {repeats})" if repeats > 1 else label
        lines.append(
            f"| {row['documents']:,} | {shown} | {m['seconds']} | {m.get('cpu_seconds', '-')} | "
            f"{m['peak_rss_mib']} | {' | '.join(_step_peaks(m))} | "
            f"{' | '.join(_step_rates(m, row['documents']))} | "
            f"{round(m.get('load_average', 0), 1)} |"
        )
    lines.append("")
    for label, points in peaks.items():
        ordered = sorted(points)
        steps = [
            f"{(high - low) * 1024 / (large - small):.2f} KiB per document from {small:,} "
            f"to {large:,} ({low} -> {high} MiB)"
            for (small, low), (large, high) in itertools.pairwise(ordered)
            if large > small
        ]
        if steps:
            lines.append(f"- {label}: {'; '.join(steps)}.")
    return lines


MODES = ("polling", "webhooks")
STEPS = ("extend_workflow_runs", "extend_extracted_documents", "extend_extracted_line_items")


def _step_peaks(mode: dict[str, Any]) -> list[str]:
    """The runs, documents and line-items steps' sampled peaks (``-``: not measured)."""
    by_step = mode.get("peak_rss_mib_by_step") or {}
    found = []
    for suffix in STEPS:
        found.append(next((str(v) for k, v in by_step.items() if k.endswith(suffix)), "-"))
    return found


def _step_rates(mode: dict[str, Any], documents: int) -> list[str]:
    """Documents/s of the runs, documents and line-items steps (``-``: not measured)."""
    by_step = mode.get("seconds_by_step") or {}
    found = []
    for suffix in STEPS:
        seconds = next((v for k, v in by_step.items() if k.endswith(suffix)), None)
        found.append(f"{round(documents / seconds):,}" if seconds else "-")
    return found


def runs_step_rows(sizes: list[int], s3_documents: int, before: str | None) -> list[Any]:
    """``bench.runs_step_bench`` per size (the S3 zone with the first), each in a fresh
    process; ``before``: another checkout's code on the same set-up, right before."""
    rows: list[Any] = []
    for index, size in enumerate(sizes):
        s3 = s3_documents if index == 0 else 0
        call = f"print(json.dumps(run({size}, {s3})))"
        if before is not None:
            code = f"import sys; sys.path.insert(0, {before!r}); {call}"
            measured = child("bench.runs_step_bench", code, 4 * 3600)["rows"]
            rows += [{**row, "label": f"before: {commit_of(before)}"} for row in measured]
        measured = child("bench.runs_step_bench", call, 4 * 3600)["rows"]
        label = f"after: {commit_of(str(ROOT))}" if before is not None else None
        rows += [{**row, "label": label} if label else row for row in measured]
    return rows


def runs_section(rows: list[dict[str, Any]] | None, when: dict[str, Any] | None) -> list[str]:
    if not rows:
        return []
    stamp = f" (measured {when['date']})" if when else ""
    lines = [
        "",
        f"## The runs step from landed events, without Dagster{stamp}",
        "",
        "`bench.runs_step_bench`: what `extend_workflow_runs` does in webhook mode between "
        "its ledger and its frame, every run with a landed event (the outputs benchmark's "
        "invoice run, ~25 KB): the landing zone's index listed, the events read, matched "
        "to the ledger and written to gzip JSONL parts of 250, the runs frame built. Not "
        "in it: the batches' list calls to Extend and Dagster's own part (the outputs "
        "benchmark's `runs step docs/s` has both). The S3 zone is moto in another "
        "process on the same cores, read `read workers` GetObjects at a time.",
        "",
        "| documents | zone | read workers | seconds | CPU s | documents/s | raw MiB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        zone = row["zone"] + (f" ({row['label']})" if row.get("label") else "")
        lines.append(
            f"| {row['documents']:,} | {zone} | {row['read_workers']} | {row['seconds']} | "
            f"{row['cpu_seconds']} | {row['documents_per_second']:,} | {row['raw_mib']} |"
        )
    return lines


def fetch_section(fe: dict[str, Any] | None) -> list[str]:
    if not fe:
        return []
    return [
        "",
        "## Output fetch: concurrent GETs through the client's rate limiter",
        "",
        "| runs | configured rate/s | emulator latency ms | achieved rate/s | share of limit | 429s |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {fe['documents']:,} | {fe['configured_rate']} | {fe['emulator_latency_ms']:.0f} | "
        f"{fe['achieved_rate']} | {fe['share_of_limit']:.1%} | {fe['http_429']} |",
    ]


def e2e_section(e2e: dict[str, Any] | None) -> list[str]:
    if not e2e:
        return []
    return [
        "",
        "## End to end on the demo corpus",
        "",
        "| documents | wall s | submit run s | waiting for Extend s | output runs s | own share | emulator share |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {e2e['documents']} | {e2e['wall_seconds']} | {e2e['submit_run_seconds']} | "
        f"{e2e['wait_for_extend_seconds']} | {e2e['outputs_runs_seconds']} | {e2e['own_share']:.0%} | "
        f"{e2e['emulator_share']:.0%} |",
        "",
        f"The emulator processes each run in {e2e['emulator_latency_s_per_run'] * 1000:.0f} ms on "
        f"{e2e['emulator_workers']} workers; real Extend takes seconds per document, so the own "
        "share shrinks further against it.",
    ]


def profile_section(profiles: list[dict[str, Any]] | None) -> list[str]:
    if not profiles:
        return []
    lines = [
        "",
        "## Where the time goes (pyinstrument, `python -m bench.profile`)",
        "",
        "`outputs`: the whole outputs job of one partition in webhook mode (runs from "
        "landed events, no GETs), in the benchmark's own process; shares of its wall time "
        "(the rest is the runs step and Dagster). `flatten` there is the batches of "
        "`flatten_batches`, reading the raw files included; `build_table` holds what it "
        "consumes (flatten) plus typing, tally and spill, so the stages overlap. `before`: "
        "another checkout (`--profile-before`) profiled in the same run; seconds are wall time.",
        "",
        "| path | documents | stage | share of the profiled time | seconds |",
        "|---|---:|---|---:|---:|",
    ]
    for p in profiles:
        what = _profile_name(p)
        total = p.get("seconds")
        for stage, share in p["shares"].items():
            seconds = f"{share * total:.2f}" if total else "-"
            lines.append(f"| {what} | {p['documents']:,} | {stage} | {share:.0%} | {seconds} |")
    timed = [p for p in profiles if p.get("cpu_seconds")]
    if timed:
        lines += ["", "Wall and CPU seconds of each profiled outputs job (the machine's load "
                  "shows as wall well above CPU):", ""]  # fmt: skip
        for p in timed:
            what = _profile_name(p)
            lines.append(f"- {what}: {p['seconds']} s wall, {p['cpu_seconds']} s CPU")
    ranked = [p for p in profiles if p.get("top_functions")]
    if ranked:
        lines += [
            "",
            "The table steps' own time, by function: time spent in the function itself (not "
            "in what it calls), summed over the documents and line-items steps, as a share of "
            "the whole profiled job.",
            "",
            "| path | function | share of the profiled time | seconds |",
            "|---|---|---:|---:|",
        ]
        for p in ranked:
            what = _profile_name(p)
            total = p.get("seconds")
            for top in p["top_functions"]:
                seconds = f"{top['share'] * total:.2f}" if total else "-"
                lines.append(f"| {what} | `{top['function']}` | {top['share']:.1%} | {seconds} |")
    return lines


def _profile_name(profile: dict[str, Any]) -> str:
    """A profile's path, with the checkout it measured when that is not this one."""
    label = profile.get("label")
    return profile["what"] + (f" ({label})" if label else "")


def ratelimit_section(rl: dict[str, Any] | None, when: dict[str, Any] | None) -> list[str]:
    if not rl:
        return []
    stamp = f" (measured {when['date']})" if when else ""
    rows = rl["rows"]
    gets = rows[0]["gets_per_process"] if rows else "?"
    lines = [
        "",
        f"## One account, many processes: the shared rate limit{stamp}",
        "",
        f"N processes, each with a client configured at the account's limit "
        f"({rl['limit']:.0f} req/s), each doing {gets} GETs on "
        f"{rl['threads_per_process']} threads, all at once, against the emulator enforcing "
        f"{rl['limit']:.0f} req/s for the whole account (`--account-requests-per-second`; 429 "
        "with `Retry-After: 1`). `adaptive`: each process alone, slowing down on 429s; "
        "`shared`: the processes also share one schedule through a directory "
        "(`rate_limit_store`/`rate_limit_dir`; one machine); `postgres`: they share one "
        "schedule through PostgreSQL only (`rate_limit_store=postgresql://...`, or the "
        "instance's), each with its own disk, as on separate machines. Aggregate: "
        "successful requests per second from the first start to the last finish. Targets: "
        "0 failed calls, 429s ≤ 5%, aggregate ≥ 85% of the limit.",
        "",
        "| processes | mode | requests | 429s | 429 share | failed calls | seconds | "
        "aggregate req/s | share of limit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['processes']} | {row['mode']} | {row['requests']:,} | {row['http_429']:,} | "
            f"{row['share_429']:.1%} | {row['failed_calls']} | {row['seconds']} | "
            f"{row['aggregate_rate']} | {row['share_of_limit']:.0%} |"
        )
    return lines


def emulator_section(e: dict[str, Any] | None) -> list[str]:
    if not e:
        return []
    return [
        "",
        "## The emulator at scale",
        "",
        "| runs held | created/s (batch POSTs) | processed/s (zero latency, 4 workers) | list pages of 1000 | pages/s |",
        "|---:|---:|---:|---:|---:|",
        f"| {e['runs']:,} | {e['create_runs_per_second']:,} | {e['processing_runs_per_second']} | "
        f"{e['list_pages']} | {e['list_pages_per_second']} |",
    ]


if __name__ == "__main__":
    main()
