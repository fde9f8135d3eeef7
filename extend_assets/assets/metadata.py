"""The metadata of the tables, as the Dagster UI shows it: schema, counts, a preview."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from extend_assets.outputs.frames import status_counts


def documents_metadata(frame: pd.DataFrame) -> dict[str, Any]:
    """What a person wants to see of the documents table: counts, confidence, credits."""
    counts = status_counts(frame["status"]) if "status" in frame.columns else {}
    confidence_columns = [c for c in frame.columns if str(c).endswith("__confidence")]
    mean_confidence = None
    if confidence_columns and len(frame):
        values = frame[confidence_columns].apply(pd.to_numeric, errors="coerce").stack()
        mean_confidence = float(values.mean()) if len(values) else None
    credits = (
        pd.to_numeric(frame.get("usage_credits"), errors="coerce")
        if "usage_credits" in frame
        else None
    )
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame),
        "status_counts": MetadataValue.json(counts),
        "mean_confidence": MetadataValue.float(mean_confidence)
        if mean_confidence is not None
        else None,
        "credits_used": float(credits.sum()) if credits is not None else 0.0,
        "preview": preview(frame),
    }


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(
        columns=[TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()]
    )


def preview(frame: pd.DataFrame, rows: int = 5, max_columns: int = 12) -> MetadataValue:
    """A Markdown preview of the first rows, with no URLs (presigned ones are credentials)."""
    head = frame.head(rows)
    head = head[[c for c in head.columns if c != "raw_json"][:max_columns]]
    head = head.map(lambda v: "<url>" if isinstance(v, str) and "://" in v and "?" in v else v)
    try:
        return MetadataValue.md(head.to_markdown(index=False))
    except ImportError:  # tabulate is optional for pandas
        return MetadataValue.md("```\n" + head.to_string(index=False) + "\n```")
