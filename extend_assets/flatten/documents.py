"""WorkflowRun JSON (either API version) → the documents table: one row per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

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
from extend_assets.flatten.runs import (
    SourceRef,
    classification,
    confidence,
    extraction,
    processor_runs,
    reviewed_by,
    workflow_version,
)
from extend_assets.flatten.schema import ColumnSpec, plan_of

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
    # Long on purpose: the hot path of the tables, one pass with bound appenders (see
    # BENCHMARKS.md, flatten); the per-column conversion is in convert().
    runs = checked_runs(runs)
    errors = Errors()
    # Without a schema the plan needs every run's values first; with one, a single pass.
    extractions = None if schema else [extraction(processor_runs(run)) for run in runs]
    plan = plan_of(schema) if schema else inferred_plan(extractions or [])

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
            append(dig(x, rest) if rest and x is not None else x)
        meta = found.metadata
        for key, candidates, append in confidence_getters:
            entry = meta.get(key)
            score = entry.get("logprobsConfidence") if type(entry) is dict else None
            append(score if type(score) is float else _slow_confidence(meta, entry, candidates))

    data: dict[str, Any] = {}
    for name, kind in DOCUMENT_COLUMNS.items():
        data[name] = convert(name, kind, raw[name], errors)
    for spec, column in zip(plan.columns, value_lists, strict=True):
        name = _field_name(spec.name)
        data[name] = convert(name, spec.kind, column, errors)
    for key, column in zip(confidence_plan, confidence_lists, strict=True):
        name = _field_name(key) + CONFIDENCE_SUFFIX
        data[name] = convert(name, "number", column, errors)
    return errors.attach(pd.DataFrame(data))


def fields_read(schema: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """What :func:`flatten_documents` reads of an extraction under ``schema``: the
    value's top-level fields, and the metadata paths a confidence may come from."""
    columns = plan_of(schema).columns
    heads = frozenset(spec.path[0] for spec in columns if spec.path)
    paths = frozenset(key for keys in _confidence_plan(columns).values() for key in keys)
    return heads, paths


def _run_row(
    run: Mapping[str, Any],
    sources: Mapping[str, SourceRef] | None,
    processors: Sequence[Mapping[str, Any]],
) -> tuple[Any, ...]:
    """The fixed columns of one run, in :data:`DOCUMENT_COLUMNS` order."""
    kind, score = classification(processors)
    return (
        *source_row(run, sources),
        _inner(run, "workflow", "id"),
        workflow_version(run),
        run.get("status"),
        run.get("failureReason"),
        run.get("failureMessage"),
        run.get("reviewed") is True,
        reviewed_by(run),
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


def _field_name(name: str) -> str:
    return COLLISION_PREFIX + name if name in DOCUMENT_COLUMNS else name
