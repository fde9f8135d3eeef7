"""WorkflowRun JSON → the documents, line items and splits tables.

Each table is built column-wise: one pass over the runs collects plain Python lists
(one per column, following a plan computed once from the schema), then every list
becomes a typed array in bulk and the DataFrame is built once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from extend_assets.flatten import coerce
from extend_assets.flatten.coerce import MISMATCH
from extend_assets.flatten.infer import infer_schema, legacy_output_schema
from extend_assets.flatten.runs import (
    Extraction,
    SourceRef,
    classification,
    confidence,
    extraction,
    final_output,
    processor_runs,
    processor_type,
)
from extend_assets.flatten.schema import ArrayField, ColumnSpec, Plan, plan_of

#: The fixed leading columns of the documents table and their kinds.
DOCUMENT_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "bucket": "string",
    "key": "string",
    "etag": "string",
    "partition": "string",
    "source_id": "string",
    "batch_id": "string",
    "workflow_id": "string",
    "workflow_version": "string",
    "status": "string",
    "failure_reason": "string",
    "failure_message": "string",
    "reviewed": "boolean",
    "reviewed_by": "string",
    "reviewed_at": "datetime",
    "edited": "boolean",
    "created_at": "datetime",
    "start_time": "datetime",
    "end_time": "datetime",
    "usage_credits": "number",
    "classification_type": "string",
    "classification_confidence": "number",
}

#: The fixed leading columns of the line items table.
LINE_ITEM_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "key": "string",
    "partition": "string",
    "source_id": "string",
    "field": "string",
    "index": "integer",
}

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

CONFIDENCE_SUFFIX = "__confidence"
#: Prefix of an extracted field whose name collides with a fixed column (``status``).
COLLISION_PREFIX = "extracted."

_EMPTY: Mapping[str, Any] = {}


class _Errors:
    """Values that could not be read as their column's type, per column."""

    def __init__(self) -> None:
        self.by_column: dict[str, int] = {}

    def add(self, column: str, count: int) -> None:
        if count:
            self.by_column[column] = self.by_column.get(column, 0) + count

    def attach(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame.attrs["coercion_errors"] = sum(self.by_column.values())
        frame.attrs["coercion_errors_by_column"] = dict(self.by_column)
        return frame


def flatten_documents(
    runs: Sequence[Mapping[str, Any]],
    sources: Mapping[str, SourceRef] | None = None,
    schema: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per run: ids, source, status, review state, classification, every
    extracted scalar field as a typed column, then one ``<field>__confidence`` column
    per field.

    The columns follow ``schema`` (a field missing from a run is null); without one
    they follow the union of the values seen. Values that do not fit their column's
    type become null and are counted in ``frame.attrs["coercion_errors"]`` (total)
    and ``frame.attrs["coercion_errors_by_column"]``.
    """
    runs = _checked(runs)
    errors = _Errors()
    # Without a schema the plan needs every run's values first; with one, a single pass.
    extractions = None if schema else [extraction(processor_runs(run)) for run in runs]
    plan = plan_of(schema) if schema else _inferred_plan(extractions or [])

    raw: dict[str, list[Any]] = {name: [] for name in DOCUMENT_COLUMNS}
    value_lists: list[list[Any]] = [[] for _ in plan.columns]
    getters = [
        (spec.path[0], spec.path[1:], out.append)
        for spec, out in zip(plan.columns, value_lists, strict=True)
    ]
    confidence_plan = _confidence_plan(plan.columns)
    confidence_lists: list[list[Any]] = [[] for _ in confidence_plan]
    confidence_getters = [
        (candidates[0], candidates, out.append)
        for candidates, out in zip(confidence_plan.values(), confidence_lists, strict=True)
    ]
    appenders = [raw[name].append for name in DOCUMENT_COLUMNS]
    for index, run in enumerate(runs):
        processors = processor_runs(run)
        for append, item in zip(appenders, _run_row(run, sources, processors), strict=True):
            append(item)
        found = extractions[index] if extractions is not None else extraction(processors)
        if found is None:
            for _, _, append in getters:
                append(None)
            for _, _, append in confidence_getters:
                append(None)
            continue
        value = found.value
        for head, rest, append in getters:
            x = value.get(head)
            append(_dig(x, rest) if rest and x is not None else x)
        meta = found.metadata
        for key, candidates, append in confidence_getters:
            entry = meta.get(key)
            score = entry.get("logprobsConfidence") if type(entry) is dict else None
            append(score if type(score) is float else _slow_confidence(meta, entry, candidates))

    data: dict[str, Any] = {}
    for name, kind in DOCUMENT_COLUMNS.items():
        data[name] = _convert(name, kind, raw[name], errors)
    for spec, column in zip(plan.columns, value_lists, strict=True):
        name = _field_name(spec.name)
        data[name] = _convert(name, spec.kind, column, errors)
    for key, column in zip(confidence_plan, confidence_lists, strict=True):
        name = _field_name(key) + CONFIDENCE_SUFFIX
        data[name] = _convert(name, "number", column, errors)
    return errors.attach(pd.DataFrame(data))


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
    runs = _checked(runs)
    errors = _Errors()
    extractions = None if schema else [extraction(processor_runs(run)) for run in runs]
    plan = plan_of(schema) if schema else _inferred_plan(extractions or [])
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
        source = _source_row(run, sources)
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
        data[name] = _convert(name, "string", sources_raw[name], errors).take(take)
    data["field"] = pd.array(fields, dtype="string")
    data["index"] = pd.array(np.asarray(indexes, dtype=np.int64), dtype="Int64")
    for column_spec in item_columns:
        name = column_spec.name
        if name in LINE_ITEM_COLUMNS:
            name = COLLISION_PREFIX + name
        data[name] = _convert(name, column_spec.kind, values[column_spec.name], errors)
    for key in confidence_keys:
        name = key + CONFIDENCE_SUFFIX
        data[name] = _convert(name, "number", confidences[key], errors)
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
        items = _dig(found.value, self.array.path)
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
                append(_dig(x, rest) if rest and x is not None else x)
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


def flatten_splits(
    runs: Sequence[Mapping[str, Any]], sources: Mapping[str, SourceRef] | None = None
) -> pd.DataFrame:
    """One row per split of each SPLITTER output, linked to the run and to the file it
    was cut from (``parent_file_id``); ``file_id`` is the sub-file's id."""
    runs = _checked(runs)
    errors = _Errors()
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
                source = _source_row(run, sources)
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
    data = {name: _convert(name, kind, raw[name], errors) for name, kind in SPLIT_COLUMNS.items()}
    return errors.attach(pd.DataFrame(data))


def coercion_errors(frame: pd.DataFrame) -> int:
    """How many values of ``frame`` were dropped as unreadable when it was flattened."""
    return int(frame.attrs.get("coercion_errors", 0))


def _checked(runs: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    if isinstance(runs, Mapping):
        raise TypeError(
            "runs must be a sequence of WorkflowRun objects, not one mapping: pass "
            "[response['workflowRun']] or a list of them."
        )
    for index, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise TypeError(
                f"runs[{index}] is a {type(run).__name__}, not a WorkflowRun mapping: pass "
                "the `workflowRun` objects of GET /workflow_runs/{id} as dicts."
            )
    return runs


def _inferred_plan(extractions: Sequence[Extraction | None]) -> Plan:
    """The column plan of the union of the values seen (legacy fields: their types)."""
    found = [e for e in extractions if e is not None]
    inferred = infer_schema(e.value for e in found if not e.legacy)
    legacy = [output for e in found for output in e.legacy]
    if legacy:
        properties = dict(inferred["properties"])
        properties.update(legacy_output_schema(legacy)["properties"])
        inferred = {"type": "object", "properties": properties}
    return plan_of(inferred)


def _source_row(run: Mapping[str, Any], sources: Mapping[str, SourceRef] | None) -> tuple[Any, ...]:
    """(run_id, bucket, key, etag, partition, source_id, batch_id): the ledger's
    ``SourceRef`` when there is one, else the run's own ``metadata`` (which the
    submitter fills with bucket, key, etag and partition)."""
    run_id = run.get("id")
    source = sources.get(run_id) if sources and run_id is not None else None
    if source is not None:
        batch_id = source.batch_id if source.batch_id is not None else run.get("batchId")
        return (
            run_id,
            source.bucket,
            source.key,
            source.etag,
            source.partition,
            source.source_id,
            batch_id,
        )
    meta = run.get("metadata")
    if type(meta) is not dict:
        meta = meta if isinstance(meta, Mapping) else _EMPTY
    return (
        run_id,
        meta.get("bucket"),
        meta.get("key"),
        meta.get("etag"),
        meta.get("partition"),
        meta.get("source_id"),
        run.get("batchId"),
    )


def _run_row(
    run: Mapping[str, Any],
    sources: Mapping[str, SourceRef] | None,
    processors: Sequence[Mapping[str, Any]],
) -> tuple[Any, ...]:
    """The fixed columns of one run, in :data:`DOCUMENT_COLUMNS` order."""
    kind, score = classification(processors)
    return (
        *_source_row(run, sources),
        _inner(run, "workflow", "id"),
        _inner(run, "workflow", "version"),
        run.get("status"),
        run.get("failureReason"),
        run.get("failureMessage"),
        run.get("reviewed") is True,
        run.get("reviewedBy"),
        run.get("reviewedAt"),
        any(p.get("edited") is True for p in processors),
        run.get("initialRunAt"),
        run.get("startTime"),
        run.get("endTime"),
        _inner(run, "usage", "credits"),
        kind,
        score,
    )


def _inner(run: Mapping[str, Any], outer: str, key: str) -> Any:
    value = run.get(outer)
    return value.get(key) if isinstance(value, Mapping) else None


def _child(parent: Any, key: str) -> Any:
    if parent is MISMATCH:
        return MISMATCH
    return parent.get(key) if isinstance(parent, Mapping) else MISMATCH


def _dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        if value is None:
            return None
        if type(value) is not dict:
            return _child(value, key)
        value = value.get(key)
    return value


def _confidence_plan(columns: Sequence[ColumnSpec]) -> dict[str, tuple[str, ...]]:
    """Confidence key → metadata keys to try: the field's own, the column's (a currency's
    ``total.amount``), then its parents' (``vendor`` for ``vendor.name``)."""
    plan: dict[str, list[str]] = {}
    for column in columns:
        candidates = plan.setdefault(column.confidence_key, [column.confidence_key])
        if column.name not in candidates:
            candidates.append(column.name)
    result: dict[str, tuple[str, ...]] = {}
    for key, candidates in plan.items():
        parts = key.split(".")
        parents = [".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]
        result[key] = tuple(dict.fromkeys([*candidates, *parents]))
    return result


def _slow_confidence(meta: Mapping[str, Any], entry: Any, candidates: tuple[str, ...]) -> Any:
    if not meta:
        return None
    if entry is not None:
        found = confidence(entry)
        if found is not None:
            return found
    for key in candidates[1:]:
        found = confidence(meta.get(key))
        if found is not None:
            return found
    return None


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


def _field_name(name: str) -> str:
    return COLLISION_PREFIX + name if name in DOCUMENT_COLUMNS else name


def _first_file_id(files: Any) -> Any:
    if isinstance(files, list) and files and isinstance(files[0], Mapping):
        return files[0].get("id")
    return None


def _convert(name: str, kind: str, raw: list[Any], errors: _Errors) -> Any:
    array, count = coerce.convert(kind, raw)
    errors.add(name, count)
    return array
