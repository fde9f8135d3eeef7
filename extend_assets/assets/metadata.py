"""The metadata of the tables, as the Dagster UI shows it: schema, counts, a preview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from extend_assets.outputs.columns import ColumnInfo
from extend_assets.outputs.frames import status_counts


def confidence_columns(infos: Sequence[ColumnInfo]) -> list[str]:
    return [i.name for i in infos if i.confidence]


def documents_metadata(frame: pd.DataFrame, infos: Sequence[ColumnInfo]) -> dict[str, Any]:
    """What a person wants to see of the documents table: counts, confidence, credits."""
    counts = status_counts(frame["status"]) if "status" in frame.columns else {}
    confidence = confidence_columns(infos)
    mean_confidence = None
    if confidence and len(frame):
        values = frame[confidence].apply(pd.to_numeric, errors="coerce").stack()
        mean_confidence = float(values.mean()) if len(values) else None
    credits = (
        pd.to_numeric(frame.get("usage_credits"), errors="coerce")
        if "usage_credits" in frame
        else None
    )
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame, infos),
        "status_counts": MetadataValue.json(counts),
        "mean_confidence": MetadataValue.float(mean_confidence)
        if mean_confidence is not None
        else None,
        "credits_used": float(credits.sum()) if credits is not None else 0.0,
        "preview": preview(frame, infos),
    }


def partition_metadata(frame: pd.DataFrame, partitions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each partition's own row count and status counts (a ranged run covers several)."""
    by_partition = frame.groupby("partition", dropna=False) if len(frame) else None
    out: dict[str, dict[str, Any]] = {}
    for partition in partitions:
        part = (
            by_partition.get_group(partition)
            if by_partition is not None and partition in by_partition.groups
            else frame.iloc[0:0]
        )
        out[partition] = {
            "dagster/row_count": len(part),
            "dagster/partition_row_count": len(part),
        }
        if "status" in part.columns:
            out[partition]["status_counts"] = MetadataValue.json(status_counts(part["status"]))
    return out


def report_partitions(context: Any, frame: pd.DataFrame) -> None:
    """Give each partition of a ranged run its own counts, not the range's total."""
    if not context.has_partition_key_range and not context.has_partition_key:
        return
    partitions = list(context.partition_keys)
    if len(partitions) < 2:
        return
    for partition, metadata in partition_metadata(frame, partitions).items():
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
