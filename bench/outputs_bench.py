"""The outputs job of one partition, polling against webhooks, side by side.

One set-up per size: the servers (local S3, the emulator) run in another process and
the real receiver (``extend-assets webhooks``) in a third; N invoices are uploaded,
submitted in one run, processed by the emulator and their events delivered, signed, to
the receiver, which lands them (on ``/dev/shm`` when there is one: this measures the
outputs job, not the disk). Then the outputs job (runs, documents, line items) runs
once per completion mode, each in a fresh process so that its peak RSS is its own.
API calls are the emulator's own counts; time at 10 requests/s is computed from them.

    .venv/bin/python -m bench.outputs_bench --documents 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from pyinstrument import Profiler

from bench.memory import CpuSampler, RssSampler, peak_rss_mib
from bench.pipeline_bench import DAY, Servers, servers
from extend_assets_tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "wss_bench_outputs_secret"
BUCKET = "bench-outputs"
TEMPLATE_KEY = "invoices/2025-01-15/000016-invoice-INV-000016.txt"  # 8 fields, 4 line items
ENDPOINTS = {
    "GET /workflow_runs": "list",
    "GET /workflow_runs/{id}": "get",
    "POST /workflow_runs/batch": "batch",
}
MODES = ("polling", "webhooks")


def _template() -> bytes:
    from extend_assets.samples.corpus import generate_corpus

    for doc in generate_corpus(30, days=1, seed=1):
        if doc.key == TEMPLATE_KEY:
            return doc.body
    raise RuntimeError("the template invoice is missing from the sample corpus")


def _upload(srv: Servers, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = _template()
    client = srv.s3_client()
    client.create_bucket(Bucket=BUCKET)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda i: client.put_object(
                    Bucket=BUCKET, Key=f"d/{DAY}/inv-{i:07d}.txt", Body=body,
                    ContentType="text/plain; charset=utf-8",
                ),
                range(count),
            )
        )  # fmt: skip


def _definitions(srv: Servers, home: Path, mode: str, landing: str) -> Any:
    from dagster import Definitions

    from extend_assets.assets import build_extend_workflow_assets
    from extend_assets.io_manager import ExtendDuckDBIOManager
    from extend_assets.resources import ExtendResource
    from extend_assets_tests.assets.harness import SAMPLE_WORKFLOW_ID, s3_source

    workflow = build_extend_workflow_assets(
        name="t",
        workflow_id=SAMPLE_WORKFLOW_ID,
        bucket=BUCKET,
        prefix_template="d/{date}/",
        start_date="2025-01-01",
        review_policy="settle",
        completion=mode,
        webhook_landing=landing if mode == "webhooks" else None,
        raw_runs_dir=str(home / f"raw-{mode}"),
    )
    return Definitions(
        assets=workflow.assets,
        jobs=workflow.jobs,
        sensors=workflow.sensors,
        resources={
            # No client-side limit worth the name: the time at 10 req/s is computed.
            "extend": ExtendResource(
                api_key=srv.api_key, base_url=srv.emulator_url, requests_per_second=5000
            ),
            "documents": s3_source(srv),
            "io_manager": ExtendDuckDBIOManager(database=str(home / "tables.duckdb")),
        },
    )


def run_outputs(
    mode: str, home: str, landing: str, s3_url: str, emulator_url: str
) -> dict[str, Any]:
    """In a fresh process: the outputs job of the partition; its time, memory and calls."""
    from dagster import DagsterInstance

    srv = Servers(s3_url, emulator_url)
    defs = _definitions(srv, Path(home), mode, landing)
    job = defs.resolve_job_def("t_extend_outputs")
    srv.control("reset", {})
    rss_before = peak_rss_mib()
    sampler = RssSampler()
    cpu_sampler = CpuSampler()
    with sampler, cpu_sampler, DagsterInstance.from_config(home) as instance:
        cpu, wall = time.process_time(), time.perf_counter()
        profile_to = os.environ.get("BENCH_PROFILE")
        profiler = Profiler(interval=0.001) if profile_to else None
        if profiler is not None:
            profiler.start()
        result = job.execute_in_process(
            instance=instance, partition_key=DAY, raise_on_error=True,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None and profile_to:
            profiler.stop()
            _save_profile(profiler, f"{profile_to}.{mode}")
        windows = step_windows(instance, result.run_id)
        by_step = {step: sampler.peak_between(start, end) for step, (start, end) in windows.items()}
    import extend_assets

    counters = srv.control("counters")
    meta: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        m = event.materialization
        if m is not None and m.asset_key.path[-1] == "extend_workflow_runs":
            meta = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    return {
        "mode": mode,
        "code": str(Path(extend_assets.__file__).resolve().parent.parent),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_run_mib": rss_before,
        "peak_rss_mib_by_step": by_step,
        "seconds_by_step": {step: round(end - start, 2) for step, (start, end) in windows.items()},
        # this process's CPU seconds in each step (Dagster's threads included): steadier
        # than the wall time when other work shares the cores
        "cpu_seconds_by_step": {
            step: round(cpu_sampler.cpu_between(start, end), 2)
            for step, (start, end) in windows.items()
        },
        "calls": {name: int(counters.get(route, 0)) for route, name in ENDPOINTS.items()},
        "runs_from_events": int(meta.get("runs_from_events", 0)),
        "runs_fetched_by_get": int(meta.get("runs_fetched_by_get", 0)),
        "raw_files": int(meta.get("raw_files", 0)),
    }


def _save_profile(profiler: Any, path: str) -> None:
    """The call tree as text and the named stages' shares as JSON (``bench.profile``)."""
    from bench.profile import HOT_PATHS, TABLE_STEPS, shares, top_functions

    Path(path + ".txt").write_text(
        profiler.output_text(show_all=False, color=False, time="percent_of_total")
    )
    summary = {"seconds": round(profiler.last_session.duration, 2),
               "cpu_seconds": round(profiler.last_session.cpu_time, 2),
               "shares": shares(profiler, HOT_PATHS["outputs"]),
               "top_functions": top_functions(profiler, within=TABLE_STEPS)}  # fmt: skip
    Path(path + ".json").write_text(json.dumps(summary))


def step_windows(instance: Any, run_id: str) -> dict[str, tuple[float, float]]:
    """Each step's (start, end) wall-clock time, from the run's event log."""
    windows: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            windows[event.step_key] = [entry.timestamp, entry.timestamp]
        elif (
            event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in windows
        ):
            windows[event.step_key][1] = entry.timestamp
    return {step: (start, end) for step, (start, end) in windows.items()}


def use_code() -> None:
    """Import ``extend_assets`` from ``$BENCH_CODE`` (another checkout's root) when set,
    to measure that code with this benchmark."""
    code = os.environ.get("BENCH_CODE")
    if code:
        sys.path.insert(0, code)


def _child(
    mode: str, home: Path, landing: Path, srv: Servers, code: str | None = None
) -> dict[str, Any]:
    """``run_outputs`` in a fresh process; ``code``: another checkout's ``extend_assets``."""
    args = ", ".join(repr(a) for a in (mode, str(home), str(landing), srv.s3_url, srv.emulator_url))
    return _in_child(f"run_outputs({args})", f"outputs {mode}", code, DAGSTER_HOME=str(home))


def _in_child(call: str, what: str, code: str | None, **env: str) -> dict[str, Any]:
    """``call`` (a function of this module and its arguments) in a fresh process, with
    ``extend_assets`` from ``code`` when given (another checkout); its JSON result."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    if code is not None:
        env["BENCH_CODE"] = code
    name = call.split("(", 1)[0]
    done = subprocess.run(
        [sys.executable, "-c",
         f"import json; from bench.outputs_bench import {name}, use_code; use_code(); "
         f"print(json.dumps({call}))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what}: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _landed(landing: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(landing / "events"))
    except FileNotFoundError:
        return 0


def bench_outputs(
    documents: int, modes: tuple[str, ...] = MODES, before: str | None = None
) -> dict[str, Any]:
    """The outputs job of one partition of ``documents`` in each mode. ``before``: the
    root of another checkout, measured on the same set-up too, each mode right before
    this code's run of it (``result["before"]``)."""
    from dagster import instance_for_test

    from extend_assets.cli.runner import PipelineRunner

    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="bench-outputs-", dir=scratch))
    landing, home = work / "landing", work / "home"
    home.mkdir()
    port = free_port()
    receiver_env = {**os.environ, "EXTEND_WEBHOOK_SECRET": SECRET}
    receiver = subprocess.Popen(
        [sys.executable, "-m", "extend_assets.webhooks.cli", "--host", "127.0.0.1",
         "--port", str(port), "--landing", str(landing), "--api-version", "2025-04-21"],
        env=receiver_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait(lambda: _healthy(url), 60, "the receiver")
        # Extend delivers events in parallel; one sender thread would make 100k a long wait.
        delivery = {"concurrency": 8, "initial_delay": 0.5, "max_delay": 10.0}
        with servers(webhook_url=url, webhook_secret=SECRET, webhook_delivery=delivery) as srv:
            started = time.perf_counter()
            _upload(srv, documents)
            _progress(f"uploaded {documents:,}", started)
            with instance_for_test(temp_dir=str(home)) as instance:
                defs = _definitions(srv, home, "polling", str(landing))
                PipelineRunner(defs, instance, "t", log_level="WARNING").submit([DAY])
            _progress("submitted", started)
            _wait(lambda: srv.control("idle")["idle"], 3600, "the emulator")
            _progress("processed by the emulator", started)
            _wait(lambda: _landed(landing) >= documents, 3600, "the events")
            _progress(f"{_landed(landing):,} events landed", started)
            setup = time.perf_counter() - started
            os.environ["DAGSTER_HOME"] = str(home)
            found: dict[str, Any] = {}
            earlier: dict[str, Any] = {}
            for mode in modes:
                if before is not None:
                    earlier[mode] = _child(mode, home, landing, srv, code=before)
                    _progress(f"{mode} (before) done", started)
                found[mode] = _child(mode, home, landing, srv)
                _progress(f"{mode} done", started)
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    for result in [*found.values(), *earlier.values()]:
        calls = sum(result["calls"].values())
        result["seconds_at_10_rps"] = round(calls / 10, 1)
        result["documents_per_second"] = round(documents / result["seconds"])
        result["gets_per_run"] = round(result["calls"]["get"] / documents, 3)
    out = {"documents": documents, "setup_seconds_not_counted": round(setup, 1), **found}
    if earlier:
        out["before"] = earlier
    return out


def _progress(what: str, since: float) -> None:
    print(f"  {time.perf_counter() - since:7.1f}s {what}", file=sys.stderr, flush=True)


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--copied", action="store_true",
                        help="webhooks only, on a copied partition (no emulator, S3 or "
                        "receiver): memory and step times at 100k in minutes")  # fmt: skip
    parser.add_argument("--before", default=None, help="root of another checkout, measured too")
    parser.add_argument("--work", default=None,
                        help="with --copied: a directory to keep the partition in (built once)")  # fmt: skip
    args = parser.parse_args()
    if args.copied:
        print(json.dumps(bench_copied(args.documents, args.before, args.work)))
    else:
        print(json.dumps(bench_outputs(args.documents, before=args.before)))


# -- the outputs job on a copied partition (memory at 100k in minutes) -------------------

COPIED_BATCH_RUNS = 1000  # runs per batch, as submitted (bench.runs_step_bench's events)


class _ListedClient:
    """Extend's listing of the copied partition's batches (ids, statuses), without HTTP.

    The only API call the runs step makes when every run has a landed event; its
    answers are generated per batch, never held, so the measured process holds what it
    would hold after listing the batches from Extend."""

    def __init__(self, documents: int, status: str) -> None:
        self.documents, self.status = documents, status

    def list_workflow_runs(self, *, batch_id: str | None = None, **_: Any) -> Iterator[Any]:
        from types import SimpleNamespace

        first = int(str(batch_id).rsplit("_", 1)[1]) * COPIED_BATCH_RUNS
        for n in range(first, min(first + COPIED_BATCH_RUNS, self.documents)):
            yield SimpleNamespace(id=f"workflow_run_{n:021d}", status=self.status)

    def get_workflow_run(self, run_id: str) -> Any:
        raise RuntimeError(f"the copied partition has an event for every run, not {run_id}")

    def close(self) -> None:
        pass

    def __enter__(self) -> _ListedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def prepare_copied(work: Path, documents: int) -> dict[str, Any]:
    """A partition of ``documents`` invoices without Extend, S3 or the receiver: the
    outputs benchmark's invoice run (from the emulator) landed ``documents`` times with
    fresh ids in a local landing zone (``bench.runs_step_bench``), and the upstream
    tables (listing, ledger) written into DuckDB as the IO manager stores them. Kept in
    ``work`` (built once) so two checkouts are measured on the same partition."""
    import duckdb

    from bench.runs_step_bench import land_in_directory, ledger
    from extend_assets.assets.storage import for_storage
    from extend_assets.io_manager import write_by_name
    from extend_assets.submission.listing import source_frame

    done = work / "prepared.json"
    if done.exists():
        found: dict[str, Any] = json.loads(done.read_text())
        if found["documents"] != documents:
            raise RuntimeError(f"{work} holds a partition of {found['documents']}; remove it")
        return found
    started = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    land_in_directory(work / "landing", documents)
    entries = ledger(documents)
    listing = source_frame(
        {"partition": DAY, "partition_date": DAY, "bucket": "bench", "key": key,
         "etag": etag, "size": 25_000, "last_modified": pd_timestamp(DAY),
         "file_name": key.rsplit("/", 1)[1], "extension": "txt", "skip_reason": None}
        for key, etag in zip(entries["key"], entries["etag"], strict=True)
    )  # fmt: skip
    status = json.loads(next((work / "landing" / "events").iterdir()).read_bytes())["runStatus"]
    with duckdb.connect(str(work / "home" / "tables.duckdb")) as connection:
        connection.execute("create schema t")
        write_by_name(connection, "t", "extend_source_documents", for_storage(listing))
        write_by_name(connection, "t", "extend_workflow_batches", for_storage(entries))
    found = {"documents": documents, "status": status,
             "setup_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    done.write_text(json.dumps(found))
    return found


def pd_timestamp(day: str) -> Any:
    import pandas as pd

    return pd.Timestamp(day, tz="UTC")


#: How :func:`copied_job` learns its partition in the measured process (a job launched
#: as a run is loaded by reference, from a function with no arguments).
COPIED_ENV = "EXTEND_BENCH_COPIED"


def copied_job() -> Any:
    """The outputs job of the copied partition named in ``$EXTEND_BENCH_COPIED``."""
    from dagster import Definitions

    from extend_assets.assets import build_extend_workflow_assets
    from extend_assets.io_manager import ExtendDuckDBIOManager
    from extend_assets.resources import ExtendResource, S3DocumentSource
    from extend_assets_tests.assets.harness import SAMPLE_WORKFLOW_ID

    where = json.loads(os.environ[COPIED_ENV])
    documents, status = int(where["documents"]), str(where["status"])

    class ListedExtend(ExtendResource):
        def get_client(self, **_: Any) -> Any:
            return _ListedClient(documents, status)

    workflow = build_extend_workflow_assets(
        name="t", workflow_id=SAMPLE_WORKFLOW_ID, bucket="bench",
        prefix_template="d/{date}/", start_date="2025-01-01", review_policy="settle",
        completion="webhooks", webhook_landing=where["landing"],
        raw_runs_dir=str(Path(where["run_home"]) / "raw"),
    )  # fmt: skip
    defs = Definitions(
        assets=workflow.assets,
        jobs=workflow.jobs,
        resources={
            "extend": ListedExtend(api_key="bench", base_url="http://127.0.0.1:9"),
            "documents": S3DocumentSource(endpoint_url="http://127.0.0.1:9",
                                          region_name="us-east-1"),  # never called
            "io_manager": ExtendDuckDBIOManager(
                database=str(Path(where["run_home"]) / "tables.duckdb")),
        },
    )  # fmt: skip
    return defs.resolve_job_def("t_extend_outputs")


def run_copied(work: str, documents: int, status: str) -> dict[str, Any]:
    """In a fresh process: the outputs job (webhooks) of the copied partition, on a copy
    of its DuckDB file; time and peak RSS, per step.

    The job is launched as a run is (Dagster's ``execute_job`` of the job loaded by
    reference), its three steps in this process (the in-process executor), so what is
    measured is what a run holds: ``execute_in_process`` would also keep every step's
    output value (the runs table) until the job ends."""
    from dagster import DagsterInstance, execute_job, reconstructable

    root = Path(work)
    run_home = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        shutil.copy(root / "home" / "tables.duckdb", run_home / "tables.duckdb")
        os.environ[COPIED_ENV] = json.dumps({
            "documents": documents, "status": status,
            "landing": str(root / "landing"), "run_home": str(run_home),
        })  # fmt: skip
        job = reconstructable(copied_job)
        rss_before = peak_rss_mib()
        sampler = RssSampler(interval=0.1)
        with sampler, DagsterInstance.from_config(str(run_home)) as instance:
            cpu, wall = time.process_time(), time.perf_counter()
            result = execute_job(
                job, instance=instance, raise_on_error=True, tags={"dagster/partition": DAY},
                run_config={"execution": {"config": {"in_process": {}}},
                            "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )  # fmt: skip
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            windows = step_windows(instance, result.run_id)
            taken = 0
            for event in result.get_asset_materialization_events():
                m = event.materialization
                if m is not None and m.asset_key.path[-1] == "extend_workflow_runs":
                    taken = int(getattr(m.metadata["runs_from_events"], "value", 0))
        by_step = {s: sampler.peak_between(a, b) for s, (a, b) in windows.items()}
        if taken != documents:
            raise RuntimeError(f"the runs step took {taken} of {documents} runs from events")
    finally:
        shutil.rmtree(run_home, ignore_errors=True)
    import extend_assets

    return {
        "mode": "webhooks",
        "code": str(Path(extend_assets.__file__).resolve().parent.parent),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_run_mib": rss_before,
        "peak_rss_mib_by_step": by_step,
        "seconds_by_step": {step: round(end - start, 2) for step, (start, end) in windows.items()},
        "load_average": os.getloadavg()[0],
        "launched": "execute_job, in-process executor",
        # as bench_outputs reports them: one list call per batch, every run from an event
        "calls": {"list": -(-documents // COPIED_BATCH_RUNS), "get": 0, "batch": 0},
        "runs_from_events": taken,
        "runs_fetched_by_get": 0,
    }


def bench_copied(
    documents: int, before: str | None = None, work: str | None = None, repeat: int = 1
) -> dict[str, Any]:
    """The outputs job (webhooks) of a copied partition of ``documents`` (see
    :func:`prepare_copied`), each checkout in a fresh process, ``before`` first. No
    emulator, S3 or receiver: the runs step's listing is generated and every run read
    from a landed event, so this measures memory and the steps' own time, not API calls.
    ``work``: a directory kept between invocations (prepared once). ``repeat``: runs of
    each checkout, alternating which goes first; each figure is their median (a step's
    time varies by 10-20% from one run to the next)."""
    place = Path(work) if work else Path(tempfile.mkdtemp(prefix="bench-copied-"))
    try:
        prepared = prepare_copied(place, documents)
        args = f"{str(place)!r}, {documents}, {prepared['status']!r}"
        found: dict[str, Any] = {"documents": documents, "setup": "copied",
                                 "setup_seconds_not_counted": prepared["setup_seconds"]}  # fmt: skip
        labels = [("before", before), ("after", None)] if before else [("after", None)]
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in labels}
        for turn in range(repeat):
            for label, code in labels if turn % 2 == 0 else labels[::-1]:
                runs[label].append(
                    _in_child(f"run_copied({args})", f"outputs (copied, {label})", code)
                )
        for label, measured in runs.items():
            result = _median_run(measured)
            result["documents_per_second"] = round(documents / result["seconds"])
            result["seconds_at_10_rps"] = round(sum(result["calls"].values()) / 10, 1)
            result["gets_per_run"] = 0.0
            if label == "before":
                found["before"] = {"webhooks": result}
            else:
                found["webhooks"] = result
        return found
    finally:
        if not work:
            shutil.rmtree(place, ignore_errors=True)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's record whose every number (also in a dict of numbers, per key) is the
    median over ``runs``; ``repeats`` says how many."""
    merged = dict(runs[0])
    for name, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[name] = _median([r[name] for r in runs])
        elif isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
            merged[name] = {k: _median([r[name][k] for r in runs]) for k in value}
    merged["repeats"] = len(runs)
    return merged


def _median(values: list[Any]) -> Any:
    """The median; of counts (all ``int``), the lower middle one, so it stays a count."""
    if all(isinstance(v, int) for v in values):
        return statistics.median_low(values)
    return round(statistics.median(values), 2)


if __name__ == "__main__":
    main()
