"""The metadata of the tables, as the Dagster UI shows it: schema, counts, a preview."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from extend_assets.assets.checks import failure_rate
from extend_assets.outputs.columns import ColumnInfo
from extend_assets.outputs.frames import status_counts
from extend_assets.outputs.tally import ConfidenceNumbers


def confidence_columns(infos: Sequence[ColumnInfo]) -> list[str]:
    return [i.name for i in infos if i.confidence]


#: Digits kept for numbers shown in the UI (0.97, not 0.9699999999999999).
DIGITS = 4


def _number(value: float | None, digits: int = DIGITS) -> MetadataValue:
    """A float the Plots tab charts, rounded for reading; null when there is no value
    (so a partition without one does not show the range's)."""
    if value is None:
        return MetadataValue.null()
    return MetadataValue.float(round(float(value), digits))


def documents_numbers(
    frame: pd.DataFrame,
    infos: Sequence[ColumnInfo],
    confidence_numbers: ConfidenceNumbers | None = None,
) -> dict[str, Any]:
    """The numbers a team watches per partition: documents, statuses, failure rate,
    credits, mean confidence and the seconds runs spent at Extend.

    ``confidence_numbers``: the rows' confidence values tallied slice by slice (then
    ``frame`` need not hold the confidence columns)."""
    counts = status_counts(frame["status"]) if "status" in frame.columns else {}
    confidence = confidence_columns(infos)
    mean_confidence = None
    if confidence_numbers is not None:
        mean_confidence = confidence_numbers.mean if confidence and len(frame) else None
    elif confidence and len(frame):
        values = frame[confidence].apply(pd.to_numeric, errors="coerce").stack()
        mean_confidence = float(values.mean()) if len(values) else None
    credits = (
        float(pd.to_numeric(frame["usage_credits"], errors="coerce").sum())
        if "usage_credits" in frame.columns
        else 0.0
    )
    statuses = frame["status"] if "status" in frame.columns else pd.Series([], dtype="string")
    _, _, rate = failure_rate(statuses)
    return {
        "dagster/row_count": MetadataValue.int(len(frame)),
        "documents": MetadataValue.int(len(frame)),
        "status_counts": MetadataValue.json(counts),
        "failure_rate": _number(rate),
        "mean_confidence": _number(mean_confidence),
        "credits_used": _number(credits, 2),
        "mean_seconds_in_extend": _number(_mean_seconds_in_extend(frame), 1),
    }


def _mean_seconds_in_extend(frame: pd.DataFrame) -> float | None:
    """Mean seconds from a run's creation to its end at Extend (runs that ended)."""
    if "created_at" not in frame.columns or "end_time" not in frame.columns or not len(frame):
        return None
    start = pd.to_datetime(frame["created_at"], errors="coerce", utc=True)
    end = pd.to_datetime(frame["end_time"], errors="coerce", utc=True)
    seconds = (end - start).dt.total_seconds().dropna()
    return float(seconds.mean()) if len(seconds) else None


def documents_metadata(frame: pd.DataFrame, infos: Sequence[ColumnInfo]) -> dict[str, Any]:
    """What a person wants to see of the documents table: counts, confidence, credits."""
    return {
        **documents_numbers(frame, infos),
        "dagster/column_schema": table_schema(frame, infos),
        "preview": preview(frame, infos),
    }


def row_numbers(frame: pd.DataFrame) -> dict[str, Any]:
    """Row count, and status counts when the frame has statuses."""
    out: dict[str, Any] = {"dagster/row_count": MetadataValue.int(len(frame))}
    if "status" in frame.columns:
        out["status_counts"] = MetadataValue.json(status_counts(frame["status"]))
    return out


#: A partition's rows and key -> its metadata.
Describe = Callable[[pd.DataFrame, str], dict[str, Any]]


def partition_metadata(
    frame: pd.DataFrame, partitions: Sequence[str], describe: Describe | None = None
) -> dict[str, dict[str, Any]]:
    """Each partition's own numbers (a ranged run covers several): ``describe`` of its rows."""
    column = frame["partition"].astype(str) if "partition" in frame.columns else None
    out: dict[str, dict[str, Any]] = {}
    for partition in partitions:
        part = frame[column == partition] if column is not None else frame.iloc[0:0]
        numbers = describe(part, partition) if describe is not None else row_numbers(part)
        numbers["dagster/partition_row_count"] = MetadataValue.int(len(part))
        out[partition] = numbers
    return out


def report_partitions(context: Any, frame: pd.DataFrame, describe: Describe | None = None) -> None:
    """Give each partition of a ranged run its own numbers, not the range's total.

    Dagster 1.13 writes one materialization per partition of a ranged step; metadata
    added with ``partition_key`` overrides the output's for that partition only.
    """
    if not context.has_partition_key_range and not context.has_partition_key:
        return
    partitions = list(context.partition_keys)
    if len(partitions) < 2:
        return
    for partition, metadata in partition_metadata(frame, partitions, describe).items():
        context.add_asset_metadata(metadata, partition_key=partition)


def _column_type(dtype: Any) -> str:
    text = str(dtype)
    if text.startswith("decimal128"):
        return text.replace("decimal128", "decimal").replace("[pyarrow]", "")
    if text.startswith("date32"):
        return "date"
    return text


def table_schema(frame: pd.DataFrame, infos: Sequence[ColumnInfo] = ()) -> TableSchema:
    """Each column with its type, and for extracted fields the Extend field and description."""
    by_name = {info.name: info for info in infos}
    columns = []
    for name, dtype in frame.dtypes.items():
        info = by_name.get(str(name))
        description = None
        if info is not None and info.field is not None:
            description = f"Extend field `{info.field}`"
            if info.description:
                description += f": {info.description}"
        columns.append(
            TableColumn(name=str(name), type=_column_type(dtype), description=description)
        )
    return TableSchema(columns=columns)


def preview(
    frame: pd.DataFrame, infos: Sequence[ColumnInfo] = (), rows: int = 5, max_columns: int = 12
) -> MetadataValue:
    """The first rows, extracted fields first (no URLs: presigned ones are credentials)."""
    fields = [i.name for i in infos if i.field is not None and not i.confidence]
    leading = [c for c in ("key", "status") if c in frame.columns]
    rest = [
        c
        for c in frame.columns
        if c not in leading and c not in fields and c not in ("raw_json", "raw_uri")
    ]
    head = frame.head(rows)[[*leading, *fields, *rest][:max_columns]]
    head = head.map(lambda v: "<url>" if isinstance(v, str) and "://" in v and "?" in v else v)
    try:
        return MetadataValue.md(head.to_markdown(index=False))
    except ImportError:  # tabulate is optional for pandas
        return MetadataValue.md("```\n" + head.to_string(index=False) + "\n```")
