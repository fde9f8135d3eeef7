"""WorkflowRun JSON (either API version) → the line items table: one row per element
of each array-of-objects field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from extend_assets.flatten.coerce import TEXT
from extend_assets.flatten.frames import (
    COLLISION_PREFIX,
    CONFIDENCE_SUFFIX,
    Errors,
    checked_runs,
    convert,
    dig,
    inferred_plan,
    source_row,
)
from extend_assets.flatten.runs import Extraction, SourceRef, confidence, extraction, processor_runs
from extend_assets.flatten.schema import ArrayField, ColumnSpec, plan_of

#: The fixed leading columns of the line items table.
LINE_ITEM_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "key": "string",
    "partition": "string",
    "source_id": "string",
    "field": "string",
    "index": "integer",
}


def flatten_line_items(
    runs: Sequence[Mapping[str, Any]],
    sources: Mapping[str, SourceRef] | None = None,
    schema: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per element of each array-of-objects field (``line_items``):
    ``run_id, key, partition, source_id, field, index``, the item's typed columns
    (the union over all such fields), then ``<column>__confidence`` per item column,
    read from metadata keys such as ``line_items[3].amount`` (falling back to the
    item's key, then the field's). Errors are counted as in :func:`flatten_documents`.
    """
    # Long on purpose: like flatten_documents, one pass over the runs with bound lists.
    runs = checked_runs(runs)
    errors = Errors()
    extractions = None if schema else [extraction(processor_runs(run)) for run in runs]
    plan = plan_of(schema) if schema else inferred_plan(extractions or [])
    item_columns = _union_item_columns(plan.arrays)
    confidence_keys = list(dict.fromkeys(c.confidence_key for c in item_columns))

    source_names = ("run_id", "key", "partition", "source_id")
    sources_raw: dict[str, list[Any]] = {name: [] for name in source_names}
    row_run: list[int] = []
    fields: list[str] = []
    indexes: list[int] = []
    values: dict[str, list[Any]] = {c.name: [] for c in item_columns}
    confidences: dict[str, list[Any]] = {k: [] for k in confidence_keys}
    walkers = [
        _ItemWalker(array, item_columns, values, confidence_keys, confidences)
        for array in plan.arrays
    ]
    bad_items = 0
    for run_index, run in enumerate(runs):
        if walkers:
            found = extractions[run_index] if extractions is not None else None
            if found is None and extractions is None:
                found = extraction(processor_runs(run))
        else:
            found = None
        source = source_row(run, sources)
        sources_raw["run_id"].append(source[0])
        sources_raw["key"].append(source[2])
        sources_raw["partition"].append(source[4])
        sources_raw["source_id"].append(source[5])
        if found is None:
            continue
        for walker in walkers:
            count = walker.walk(found, run_index, row_run, fields, indexes)
            bad_items += count
    errors.add("field", bad_items)

    take = np.asarray(row_run, dtype=np.intp)
    data: dict[str, Any] = {}
    for name in source_names:
        data[name] = convert(name, "string", sources_raw[name], errors).take(take)
    data["field"] = pd.array(fields, dtype=TEXT)
    data["index"] = pd.array(np.asarray(indexes, dtype=np.int64), dtype="Int64")
    for column_spec in item_columns:
        name = column_spec.name
        if name in LINE_ITEM_COLUMNS:
            name = COLLISION_PREFIX + name
        data[name] = convert(name, column_spec.kind, values[column_spec.name], errors)
    for key in confidence_keys:
        name = key + CONFIDENCE_SUFFIX
        data[name] = convert(name, "number", confidences[key], errors)
    return errors.attach(pd.DataFrame(data))


class _ItemWalker:
    """Reads the elements of one array-of-objects field into the line item columns."""

    def __init__(
        self,
        array: ArrayField,
        item_columns: Sequence[ColumnSpec],
        values: Mapping[str, list[Any]],
        confidence_keys: Sequence[str],
        confidences: Mapping[str, list[Any]],
    ) -> None:
        self.array = array
        self.getters = [(c.path[0], c.path[1:], values[c.name].append) for c in array.columns]
        present = {c.name for c in array.columns}
        own_keys = list(dict.fromkeys(c.confidence_key for c in array.columns))
        self.absent = [values[c.name].append for c in item_columns if c.name not in present]
        self.absent += [confidences[k].append for k in confidence_keys if k not in own_keys]
        self.own_keys = own_keys
        self.confidence_appends = [confidences[k].append for k in own_keys]
        # Metadata keys per element index (``line_items[3].amount``), made once and
        # shared by all runs: the same string objects hash once.
        self.keys: list[tuple[str, ...]] = []

    def keys_of(self, index: int) -> tuple[str, ...]:
        while len(self.keys) <= index:
            prefix = f"{self.array.name}[{len(self.keys)}]"
            self.keys.append((prefix, *(f"{prefix}.{k}" for k in self.own_keys)))
        return self.keys[index]

    def walk(
        self,
        found: Extraction,
        run_index: int,
        row_run: list[int],
        fields: list[str],
        indexes: list[int],
    ) -> int:
        """Append this run's elements; returns how many were not objects (errors)."""
        name = self.array.name
        items = dig(found.value, self.array.path)
        if items is None:
            return 0
        if type(items) is not list:
            return 1
        bad = 0
        meta = found.metadata
        for i, item in enumerate(items):
            if type(item) is not dict:
                bad += item is not None
                continue
            row_run.append(run_index)
            fields.append(name)
            indexes.append(i)
            for head, rest, append in self.getters:
                x = item.get(head)
                append(dig(x, rest) if rest and x is not None else x)
            for append in self.absent:
                append(None)
            if not meta:
                for append in self.confidence_appends:
                    append(None)
                continue
            item_key, *column_keys = self.keys_of(i)
            for key, append in zip(column_keys, self.confidence_appends):  # noqa: B905
                entry = meta.get(key)
                score = entry.get("logprobsConfidence") if type(entry) is dict else None
                if type(score) is not float:
                    score = _item_confidence(meta, entry, item_key, name)
                append(score)
        return bad


def _item_confidence(meta: Mapping[str, Any], entry: Any, item_key: str, field: str) -> Any:
    """An item column's confidence when it has no float ``logprobsConfidence``: its
    other scores, else the whole item's (``line_items[3]``), else the field's."""
    for candidate in (entry, meta.get(item_key), meta.get(field)):
        found = confidence(candidate)
        if found is not None:
            return found
    return None


def _union_item_columns(arrays: Sequence[ArrayField]) -> list[ColumnSpec]:
    """Item columns over all array fields; a name typed differently by two fields
    becomes a string column."""
    union: dict[str, ColumnSpec] = {}
    for array in arrays:
        for column in array.columns:
            seen = union.get(column.name)
            if seen is None:
                union[column.name] = column
            elif seen.kind != column.kind:
                union[column.name] = ColumnSpec(
                    column.name, column.path, "string", column.confidence_key
                )
    return list(union.values())
