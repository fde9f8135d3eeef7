"""Profile the hot paths with pyinstrument: where submission and flattening spend their time.

    .venv/bin/python -m bench.profile submission --documents 10000
    .venv/bin/python -m bench.profile flatten --documents 20000
    .venv/bin/python -m bench.profile outputs --documents 10000

``outputs`` profiles the outputs job of one partition of N invoices in webhook mode
(the set-up of ``bench.outputs_bench``), in its own process; the call tree goes to
``bench/profiles/outputs-N.txt``.

Prints the call tree (frames under 2% hidden) and writes an HTML profile next to it
in ``bench/profiles/``. The servers run in another process, so only the pipeline's
own time shows. ``python -m bench`` reports the shares of the named hot paths.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame

PROFILES = Path(__file__).resolve().parent / "profiles"

#: The table steps, whose own functions ``python -m bench`` ranks.
TABLE_STEPS = ("extend_extracted_documents", "extend_extracted_line_items")

# The stages a reader cares about, by the function that does each.
HOT_PATHS = {
    "submission": {
        "list objects (boto3 paginator, XML parsing)": "list_objects",
        "presign (botocore SigV4)": "generate_presigned_url",
        "batch POSTs (HTTP)": "batch_run_workflow",
        "ledger events (Dagster event log)": "record",
    },
    "flatten": {
        "documents table": "flatten_documents",
        "line-items table": "flatten_line_items",
        "typed columns (pandas conversion)": "convert",
    },
    "outputs": {
        "documents step": "extend_extracted_documents",
        "line-items step": "extend_extracted_line_items",
        "reading raw files (gzip + JSON)": "iter_file",
        "decoding for the tables (msgspec view)": "decode_run table_view",
        "schema rewrite per run": "rewrite",
        "ledger sources per chunk": "source_refs",
        "flatten (flatten_documents / flatten_line_items)": "_flattened",
        "tables built in slices (build_table: flatten, type, tally, spill)": "build_table",
        "batches aligned to one schema (SliceUnion.aligned)": "aligned",
        "freed memory released (gc, malloc_trim)": "release_free_memory",
        "storable (JSON text, Arrow text)": "storable",
        "analyst columns (names, DECIMAL, DATE)": "analyst_frame",
        "metadata and checks": "documents_metadata",
        "completeness check": "completeness_check",
        "loading the runs table (IO manager)": "load_input",
        "writing the table (IO manager)": "handle_output",
    },
}


def shares(profiler: Profiler, paths: dict[str, str]) -> dict[str, float]:
    """Share of the recorded time spent inside each named function (outermost call); a
    stage may name several functions, separated by spaces (its name now and before)."""
    session = profiler.last_session
    root = session.root_frame() if session else None
    if root is None or not root.time:
        return {}
    spent = dict.fromkeys(paths, 0.0)

    def walk(frame: Frame, inside: frozenset[str]) -> None:
        for label, functions in paths.items():
            if frame.function in functions.split() and label not in inside:
                spent[label] += frame.time
                inside = inside | {label}
        for child in frame.children:
            walk(child, inside)

    walk(root, frozenset())
    return {label: round(seconds / root.time, 3) for label, seconds in spent.items()}


def top_functions(
    profiler: Profiler, count: int = 12, within: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The functions with the most time of their own (not in what they call), summed
    over every place they were called from: where the CPU actually goes. ``within``:
    only under these functions (e.g. the table steps); shares stay of the whole."""
    session = profiler.last_session
    root = session.root_frame() if session else None
    if root is None or not root.time:
        return []
    own: dict[str, float] = {}

    def walk(frame: Frame, inside: bool) -> None:
        inside = inside or frame.function in within
        if inside and not frame.is_synthetic:
            name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
            own[name] = own.get(name, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child, inside)

    walk(root, not within)
    ranked = sorted(own.items(), key=lambda item: -item[1])[:count]
    return [{"function": name, "share": round(seconds / root.time, 3)} for name, seconds in ranked]


def run(what: str, documents: int) -> dict[str, Any]:
    """Profile one hot path; the JSON-able summary ``python -m bench`` records."""
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="bench-dagster-"))
    if what == "outputs":
        return {"what": what, "documents": documents, **profile_outputs(documents)}
    profiler = PROFILERS[what](documents)
    session = profiler.last_session
    return {
        "what": what,
        "documents": documents,
        "seconds": round(session.duration, 2) if session else None,
        "shares": shares(profiler, HOT_PATHS[what]),
    }


def run_code(what: str, documents: int, code: str) -> dict[str, Any]:
    """:func:`run` of ``outputs`` against another checkout's ``extend_assets`` (``code``:
    its root), e.g. the commit before a change, so before and after share one run."""
    os.environ["BENCH_CODE"] = code
    return {**run(what, documents), "code": code}


def profile_submission(documents: int) -> Profiler:
    from dagster import DagsterInstance

    from bench.pipeline_bench import DAY, servers, upload
    from extend_assets_tests.assets.harness import build, runner

    with servers(runs_per_minute=0) as srv, tempfile.TemporaryDirectory() as tmp:
        upload(srv, "bench-profile", documents)
        defs, _ = build(srv, srv, Path(tmp) / "tables.duckdb", bucket="bench-profile",
                        prefix_template="d/{date}/")  # fmt: skip
        with DagsterInstance.ephemeral() as instance:
            pipeline = runner(defs, instance)
            with Profiler(interval=0.001) as profiler:
                pipeline.submit([DAY])
    return profiler


def profile_flatten(documents: int) -> Profiler:
    from bench.flatten_bench import sample_runs, with_package
    from extend_assets_tests.flatten.builders import invoice_schema

    runs, schema = sample_runs(documents), invoice_schema()
    with Profiler(interval=0.001) as profiler:
        with_package(runs, schema)
    return profiler


def profile_outputs(documents: int) -> dict[str, Any]:
    """The outputs job of one partition in webhook mode (runs from landed events, no
    GETs), profiled in the benchmark's own fresh process (``bench.outputs_bench``)."""
    from bench.outputs_bench import bench_outputs

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_PROFILE"] = str(Path(tmp) / "outputs")
        try:
            bench_outputs(documents, modes=("webhooks",))
        finally:
            del os.environ["BENCH_PROFILE"]
        text = (Path(tmp) / "outputs.webhooks.txt").read_text()
        PROFILES.mkdir(exist_ok=True)
        (PROFILES / f"outputs-{documents}.txt").write_text(text)
        summary: dict[str, Any] = json.loads((Path(tmp) / "outputs.webhooks.json").read_text())
    return summary


PROFILERS = {"submission": profile_submission, "flatten": profile_flatten}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("what", choices=[*sorted(PROFILERS), "outputs"])
    parser.add_argument("--documents", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="bench-dagster-"))
    if args.what == "outputs":
        print(json.dumps(run("outputs", args.documents), indent=2))
        print(f"call tree: {PROFILES / f'outputs-{args.documents}.txt'}")
        return
    profiler = PROFILERS[args.what](args.documents)
    print(profiler.output_text(show_all=False, color=False, flat=False, time="percent_of_total"))
    PROFILES.mkdir(exist_ok=True)
    html = PROFILES / f"{args.what}-{args.documents}.html"
    html.write_text(profiler.output_html())
    print(f"wrote {html}")
    for label, share in shares(profiler, HOT_PATHS[args.what]).items():
        print(f"{share:6.1%}  {label}")


if __name__ == "__main__":
    main()
