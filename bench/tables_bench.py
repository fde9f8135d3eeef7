"""The documents and line-items steps' engine alone, without Dagster: raw files in, DuckDB out.

What ``extend_extracted_documents`` and ``extend_extracted_line_items`` do between
loading the runs table and handing their frame to the IO manager, plus the IO
manager's write (:func:`extend_assets.io_manager.write_by_name`), timed stage by
stage. Next to the outputs benchmark's step times (the same work inside Dagster) it
tells the engine's cost from Dagster's per-step cost.

The raw runs: the files of a runs step (``--raw-dir``: ``runs-*.jsonl.gz``), else 250
runs of the outputs benchmark's invoice from the emulator, copied with fresh run ids
until there are N.

    .venv/bin/python -m bench.tables_bench --documents 10000 [--raw-dir DIR] [--profile]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pandas as pd

from extend_assets import flatten
from extend_assets.outputs.frames import run_frame

DAY = "2025-01-15"
CHUNK = 250


def _template_runs(raw_dir: str | None) -> list[dict[str, Any]]:
    if raw_dir:
        runs = []
        for path in sorted(Path(raw_dir).glob("runs-*.jsonl.gz")):
            with gzip.open(path, "rb") as handle:
                runs += [orjson.loads(line) for line in handle if line.strip()]
        if runs:
            return runs
    return emulator_runs(CHUNK)


def emulator_runs(count: int) -> list[dict[str, Any]]:
    """``count`` runs of the outputs benchmark's invoice as the emulator answers
    ``GET /workflow_runs/{id}`` (2025-04-21): ~25 KB each, citations and all."""
    from bench.outputs_bench import _template
    from extend_assets.client import ExtendClient
    from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer

    text = _template().decode()
    inputs = [{"rawText": text, "metadata": {"n": n}} for n in range(count)]
    with EmulatorServer(port=0) as emu, ExtendClient(emu.api_key, base_url=emu.base_url) as client:
        batch_id = client.batch_run_workflow(SAMPLE_WORKFLOW_ID, inputs)
        if not emu.wait_idle(600):
            raise RuntimeError("the emulator did not process the runs in 10 minutes")
        ids = [s.id for s in client.list_workflow_runs(batch_id=batch_id, sort_by="createdAt")]
        return [dict(client.get_workflow_run(run_id).raw) for run_id in ids]


def write_raw_runs(documents: int, raw_dir: str | None, into: Path) -> pd.DataFrame:
    """N raw runs in files of 250 under ``into``, and the runs table pointing at them."""
    from extend_assets.outputs.raw_files import RawRunWriter
    from extend_assets.outputs.raw_store import EXTRACTORS_FILE
    from extend_assets.outputs.schema_union import extractors_seen

    templates = _template_runs(raw_dir)
    rows = []
    with RawRunWriter(into, CHUNK) as writer:
        for n in range(documents):
            run = dict(templates[n % len(templates)])
            run["id"] = f"workflow_run_{n:021d}"
            uri, line = writer.add(run)
            rows.append(
                {
                    "partition": DAY,
                    "partition_date": DAY,
                    "bucket": "bench",
                    "key": f"d/{DAY}/inv-{n:07d}.txt",
                    "etag": f"etag{n}",
                    "submission_id": "s1",
                    "batch_id": "batch_1",
                    "run_id": run["id"],
                    "status": str(run.get("status")),
                    "raw_uri": uri,
                    "raw_line": line,
                }
            )
        # as the runs step does (RunStream.save_extractors): the tables read this list
        found = extractors_seen(templates)
        writer.write_beside(EXTRACTORS_FILE, json.dumps([list(e) for e in found]).encode())
    return run_frame(rows)


def _timed(stages: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    out = fn()
    stages[name] = stages.get(name, 0.0) + time.perf_counter() - started
    return out


def _flattened(
    t: dict[str, float], runs: pd.DataFrame, flatten_one: Callable[..., Any]
) -> tuple[Any, pd.DataFrame]:
    """Both steps' common start: the workflow schema, then the raw runs read, flattened
    and made storable (timed into ``t``)."""
    from extend_assets.outputs.frames import storable
    from extend_assets.outputs.matching import with_partition_date
    from extend_assets.outputs.raw_reader import RawRunReader
    from extend_assets.outputs.schema_union import WorkflowSchema
    from extend_assets.outputs.stream import extractors_of, flatten_in_chunks

    with RawRunReader(runs) as reader:
        schema = WorkflowSchema()
        for name, extractor in _timed(t, "extractors", lambda: extractors_of(runs, reader)):
            schema.add(extractor, name)
        flat = _timed(
            t,
            "read + flatten",
            lambda: flatten_in_chunks(runs, flatten_one, schema, reader=reader),
        )
    return schema, _timed(t, "storable", lambda: storable(with_partition_date(flat)))


def documents_step(runs: pd.DataFrame, connection: Any) -> dict[str, float]:
    """The documents step's engine, stage by stage (seconds)."""
    from extend_assets.assets.checks import completeness_check, low_confidence_check
    from extend_assets.assets.extend_extracted_documents import DOCUMENT_FIXED_COLUMNS
    from extend_assets.assets.metadata import documents_metadata
    from extend_assets.assets.storage import for_storage
    from extend_assets.io_manager import write_by_name
    from extend_assets.outputs.columns import analyst_frame

    t: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    schema, frame = _flattened(t, runs, flatten.flatten_documents)
    table, infos = _timed(
        t,
        "analyst columns",
        lambda: analyst_frame(frame, schema.as_json_schema(), fixed=DOCUMENT_FIXED_COLUMNS),
    )
    _timed(t, "metadata", lambda: documents_metadata(table, infos))
    stored = _timed(t, "for_storage", lambda: for_storage(table))
    _timed(t, "write (DuckDB)", lambda: write_by_name(connection, "main", "documents", stored))
    _timed(
        t,
        "checks",
        lambda: (completeness_check(frame, len(runs)), low_confidence_check(frame, 0.8)),
    )
    t["total"] = time.perf_counter() - started
    t["cpu"] = time.process_time() - cpu
    return t


def line_items_step(runs: pd.DataFrame, connection: Any) -> dict[str, float]:
    """The line-items step's engine, stage by stage (seconds)."""
    from extend_assets.assets.metadata import preview, table_schema
    from extend_assets.assets.storage import for_storage
    from extend_assets.io_manager import write_by_name
    from extend_assets.outputs.columns import analyst_frame

    t: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    schema, frame = _flattened(t, runs, flatten.flatten_line_items)
    table, infos = _timed(
        t,
        "analyst columns",
        lambda: analyst_frame(
            frame,
            schema.as_json_schema(),
            fixed=(*flatten.LINE_ITEM_COLUMNS, "partition_date"),
            line_items=True,
        ),
    )
    _timed(t, "metadata", lambda: (table_schema(table, infos), preview(table, infos)))
    stored = _timed(t, "for_storage", lambda: for_storage(table))
    _timed(t, "write (DuckDB)", lambda: write_by_name(connection, "main", "line_items", stored))
    t["total"] = time.perf_counter() - started
    t["cpu"] = time.process_time() - cpu
    return t


def run(documents: int, raw_dir: str | None = None, profile: bool = False) -> dict[str, Any]:
    import extend_assets.assets.extend_extracted_documents  # noqa: F401 (Dagster: not timed)

    with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
        runs = write_raw_runs(documents, raw_dir, Path(tmp) / "raw")
        connection = duckdb.connect(str(Path(tmp) / "tables.duckdb"))
        result: dict[str, Any] = {"documents": documents}
        for name, step in (("documents", documents_step), ("line_items", line_items_step)):
            with _maybe_profiled(profile, Path(tmp), name) as texts:
                stages = step(runs, connection)
            result[name] = {k: round(v, 3) for k, v in stages.items()}
            result[name]["documents_per_second"] = round(documents / stages["total"])
            result[name]["documents_per_cpu_second"] = round(documents / stages["cpu"])
            if texts:
                result[name]["profile"] = texts[0]
        connection.close()
    return result


class _maybe_profiled:
    def __init__(self, on: bool, tmp: Path, name: str) -> None:
        self.on, self.texts = on, []  # type: ignore[var-annotated]
        self.profiler: Any = None

    def __enter__(self) -> list[str]:
        if self.on:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.001)
            self.profiler.start()
        return self.texts

    def __exit__(self, *exc: object) -> None:
        if self.profiler is not None:
            self.profiler.stop()
            self.texts.append(
                self.profiler.output_text(show_all=False, color=False, time="percent_of_total")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--raw-dir", default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    result = run(args.documents, args.raw_dir, args.profile)
    for name in ("documents", "line_items"):
        text = result[name].pop("profile", None)
        if text:
            print(text)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
