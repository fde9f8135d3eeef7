"""WorkflowRun JSON (either API version) → the splits table: one row per split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from extend_assets.flatten.frames import Errors, checked_runs, convert, source_row
from extend_assets.flatten.runs import SourceRef, final_output, processor_runs, processor_type

#: The columns of the splits table.
SPLIT_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "key": "string",
    "partition": "string",
    "source_id": "string",
    "processor_run_id": "string",
    "split_index": "integer",
    "split_id": "string",
    "type": "string",
    "classification_id": "string",
    "identifier": "string",
    "observation": "string",
    "start_page": "integer",
    "end_page": "integer",
    "file_id": "string",
    "name": "string",
    "parent_file_id": "string",
}


def flatten_splits(
    runs: Sequence[Mapping[str, Any]], sources: Mapping[str, SourceRef] | None = None
) -> pd.DataFrame:
    """One row per split of each SPLITTER output, linked to the run and to the file it
    was cut from (``parent_file_id``); ``file_id`` is the sub-file's id."""
    runs = checked_runs(runs)
    errors = Errors()
    raw: dict[str, list[Any]] = {name: [] for name in SPLIT_COLUMNS}
    for run in runs:
        run_files = run.get("files")
        for processor_run in processor_runs(run):
            if processor_type(processor_run) != "SPLITTER":
                continue
            output = final_output(processor_run)
            splits = output.get("splits") if isinstance(output, Mapping) else None
            if not isinstance(splits, list):
                continue
            parent = _first_file_id(processor_run.get("files")) or _first_file_id(run_files)
            for i, split in enumerate(splits):
                if not isinstance(split, Mapping):
                    errors.add("split_id", split is not None)
                    continue
                source = source_row(run, sources)
                raw["run_id"].append(source[0])
                raw["key"].append(source[2])
                raw["partition"].append(source[4])
                raw["source_id"].append(source[5])
                raw["processor_run_id"].append(processor_run.get("id"))
                raw["split_index"].append(i)
                raw["split_id"].append(split.get("id"))
                raw["type"].append(split.get("type"))
                raw["classification_id"].append(split.get("classificationId"))
                raw["identifier"].append(split.get("identifier"))
                raw["observation"].append(split.get("observation"))
                raw["start_page"].append(split.get("startPage"))
                raw["end_page"].append(split.get("endPage"))
                raw["file_id"].append(split.get("fileId"))
                raw["name"].append(split.get("name"))
                raw["parent_file_id"].append(parent)
    data = {name: convert(name, kind, raw[name], errors) for name, kind in SPLIT_COLUMNS.items()}
    return errors.attach(pd.DataFrame(data))


def _first_file_id(files: Any) -> Any:
    if isinstance(files, list) and files and isinstance(files[0], Mapping):
        return files[0].get("id")
    return None
