"""What the documents, line items and splits tables share: reading the source of a
run, digging into values, converting columns and counting what could not be read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from extend_assets.flatten import coerce
from extend_assets.flatten.coerce import MISMATCH
from extend_assets.flatten.infer import infer_schema, legacy_output_schema
from extend_assets.flatten.runs import Extraction, SourceRef
from extend_assets.flatten.schema import Plan, plan_of

CONFIDENCE_SUFFIX = "__confidence"


#: Prefix of an extracted field whose name collides with a fixed column (``status``).
COLLISION_PREFIX = "extracted."


_EMPTY: Mapping[str, Any] = {}


class Errors:
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


def coercion_errors(frame: pd.DataFrame) -> int:
    """How many values of ``frame`` were dropped as unreadable when it was flattened."""
    return int(frame.attrs.get("coercion_errors", 0))


def checked_runs(runs: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
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


def inferred_plan(extractions: Sequence[Extraction | None]) -> Plan:
    """The column plan of the union of the values seen (legacy fields: their types)."""
    found = [e for e in extractions if e is not None]
    inferred = infer_schema(e.value for e in found if not e.legacy)
    legacy = [output for e in found for output in e.legacy]
    if legacy:
        properties = dict(inferred["properties"])
        properties.update(legacy_output_schema(legacy)["properties"])
        inferred = {"type": "object", "properties": properties}
    return plan_of(inferred)


def source_row(run: Mapping[str, Any], sources: Mapping[str, SourceRef] | None) -> tuple[Any, ...]:
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


def _child(parent: Any, key: str) -> Any:
    if parent is MISMATCH:
        return MISMATCH
    return parent.get(key) if isinstance(parent, Mapping) else MISMATCH


def dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        if value is None:
            return None
        if type(value) is not dict:
            return _child(value, key)
        value = value.get(key)
    return value


def convert(name: str, kind: str, raw: list[Any], errors: Errors) -> Any:
    array, count = coerce.convert(kind, raw)
    errors.add(name, count)
    return array
