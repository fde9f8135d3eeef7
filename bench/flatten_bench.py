"""Benchmark: ``extend_assets.flatten`` against a plain ``pandas.json_normalize`` approach.

All three turn the same WorkflowRun payloads (a 20-field invoice with 10 line items,
as ``GET /workflow_runs/{id}`` returns them) into a typed documents table with
per-field confidence and a line-items table: the package, the plain
``json_normalize`` route (normalize outputs and metadata, melt/pivot the item
confidences), and a tuned hand-written loop that builds dicts first (fewer type
fixes: a lower bar on work, so a harder bar on speed). Reported side by side: documents/s,
the speed ratio, and peak memory (tracemalloc) against the final frames' size.
It asserts nothing.

    .venv/bin/python -m bench.flatten_bench [--documents 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from extend_assets import flatten
from extend_assets_tests.flatten.builders import (
    classify_run,
    extract_run,
    invoice_schema,
    invoice_value,
    workflow_run,
)

LINE_ITEMS = 10
Frames = tuple[pd.DataFrame, pd.DataFrame]


def sample_runs(count: int) -> list[dict[str, Any]]:
    items = [
        {
            "description": f"Item {i}",
            "sku": f"SKU-{i:04d}",
            "quantity": i + 1,
            "unit_price": 10.0 + i,
            "amount": (i + 1) * (10.0 + i),
        }
        for i in range(LINE_ITEMS)
    ]
    runs = []
    for n in range(count):
        value = invoice_value(invoice_number=f"INV-{n:07d}", line_items=items)
        runs.append(
            workflow_run(
                f"workflow_run_{n:021d}",
                key=f"invoices/2025-01-15/inv-{n}.pdf",
                outputs=[classify_run(), extract_run(value)],
            )
        )
    # Decode from JSON so both contenders see fresh, unshared objects as from the API.
    decoded: list[dict[str, Any]] = json.loads(json.dumps(runs))
    return decoded


def with_package(runs: Sequence[dict[str, Any]], schema: dict[str, Any]) -> Frames:
    documents = flatten.flatten_documents(runs, schema=schema)
    items = flatten.flatten_line_items(runs, schema=schema)
    return documents, items


def with_json_normalize(runs: Sequence[dict[str, Any]], schema: dict[str, Any]) -> Frames:
    """What a data team writes by hand: json_normalize the outputs, then fix the types."""
    outputs = []
    for run in runs:
        extract = next(o for o in run["outputs"] if o["type"] == "EXTRACT")
        outputs.append(extract["reviewedOutput"] or extract["output"])
    runs_frame = pd.json_normalize(list(runs), max_level=1)[
        [
            "id",
            "status",
            "batchId",
            "reviewed",
            "initialRunAt",
            "metadata.key",
            "metadata.partition",
        ]
    ]
    values = pd.json_normalize([o["value"] for o in outputs]).drop(columns=["line_items"])
    metadata = pd.json_normalize([o["metadata"] for o in outputs])
    confidence = metadata[[c for c in metadata.columns if c.endswith(".logprobsConfidence")]]
    field_confidence = confidence[[c for c in confidence.columns if "[" not in c]]
    field_confidence.columns = [
        c.removesuffix(".logprobsConfidence") + "__confidence" for c in field_confidence.columns
    ]
    documents = pd.concat([runs_frame, values, field_confidence], axis=1)
    documents["initialRunAt"] = pd.to_datetime(documents["initialRunAt"], utc=True)
    for column in ("invoice_date", "due_date"):
        documents[column] = pd.to_datetime(documents[column]).dt.date

    items = pd.json_normalize(
        [{"id": run["id"], **o["value"]} for run, o in zip(runs, outputs, strict=True)],
        record_path="line_items",
        meta=["id"],
    )
    items["index"] = items.groupby("id").cumcount()
    item_confidence = confidence[[c for c in confidence.columns if "[" in c]].copy()
    item_confidence["id"] = runs_frame["id"]
    long = item_confidence.melt(id_vars="id", var_name="path", value_name="confidence")
    parts = long["path"].str.extract(r"^\w+\[(\d+)\]\.(\w+)\.logprobsConfidence$")
    long["index"] = parts[0].astype(int)
    long["column"] = parts[1] + "__confidence"
    wide = long.pivot_table(
        index=["id", "index"], columns="column", values="confidence", aggfunc="first"
    ).reset_index()
    items = items.merge(wide, on=["id", "index"], how="left")
    return documents, items


def with_hand_loop(runs: Sequence[dict[str, Any]], schema: dict[str, Any]) -> Frames:
    """A tuned hand-written loop into dicts, one json_normalize call per table."""
    rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for run in runs:
        extract = next(o for o in run["outputs"] if o["type"] == "EXTRACT")
        output = extract["reviewedOutput"] or extract["output"]
        meta = output["metadata"]
        source = run["metadata"] or {}
        row = {"run_id": run["id"], "key": source.get("key"), "status": run["status"]}
        row.update((k, v) for k, v in output["value"].items() if k != "line_items")
        for path, entry in meta.items():
            if "[" not in path:
                row[f"{path}__confidence"] = entry.get("logprobsConfidence")
        rows.append(row)
        for index, item in enumerate(output["value"].get("line_items") or []):
            item_row = {"run_id": run["id"], "key": source.get("key"), "index": index, **item}
            for column in item:
                entry = meta.get(f"line_items[{index}].{column}") or {}
                item_row[f"{column}__confidence"] = entry.get("logprobsConfidence")
            item_rows.append(item_row)
    documents = pd.json_normalize(rows)
    for column in ("invoice_date", "due_date"):
        documents[column] = pd.to_datetime(documents[column]).dt.date
    return documents, pd.json_normalize(item_rows)


def measure(
    contender: Callable[[Sequence[dict[str, Any]], dict[str, Any]], Frames],
    runs: Sequence[dict[str, Any]],
    schema: dict[str, Any],
) -> dict[str, Any]:
    gc.collect()
    started = time.perf_counter()
    contender(runs, schema)  # timed without tracemalloc, which slows allocation down
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    documents, items = contender(runs, schema)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    final = int(documents.memory_usage(deep=True).sum() + items.memory_usage(deep=True).sum())
    return {
        "seconds": round(seconds, 3),
        "documents_per_second": round(len(runs) / seconds),
        "peak_mib": round(peak / 2**20, 1),
        "final_frames_mib": round(final / 2**20, 1),
        "peak_over_final": round(peak / final, 2),
        "document_rows": len(documents),
        "document_columns": len(documents.columns),
        "line_item_rows": len(items),
    }


def run(documents: int = 20_000, json_normalize_limit: int = 20_000) -> dict[str, Any]:
    """``json_normalize`` peaks near 90 KB a document; above the limit it is skipped."""
    runs = sample_runs(documents)
    schema = invoice_schema()
    package = measure(with_package, runs, schema)
    hand_loop = measure(with_hand_loop, runs, schema)
    result: dict[str, Any] = {
        "documents": documents,
        "line_items_per_document": LINE_ITEMS,
        "flatten_py": package,
        "hand_loop": hand_loop,
        "speedup_vs_hand_loop": round(hand_loop["seconds"] / package["seconds"], 2),
    }
    if documents <= json_normalize_limit:
        baseline = measure(with_json_normalize, runs, schema)
        result["json_normalize"] = baseline
        result["speedup_vs_json_normalize"] = round(baseline["seconds"] / package["seconds"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(run(args.documents), indent=2))


if __name__ == "__main__":
    main()
