"""Pure pandas: WorkflowRun JSON (as GET /workflow_runs/{id} returns it, in API version
2025-04-21 or 2026-02-09) → DataFrames. Both versions flatten to the same columns and
values; the version differences are read in one place, :mod:`.runs`.

No Dagster and no I/O here. The tables:

- :func:`flatten_documents`: one row per run, every extracted scalar field typed,
  per-field confidence (``logprobsConfidence``, else ``ocrConfidence``, else
  ``reviewAgentScore / 5``; legacy FieldsArray results: their ``confidence``).
- :func:`flatten_line_items`: one row per element of each array-of-objects field.
- :func:`flatten_splits`: one row per split of a SPLITTER (2026: SPLIT) output.

Values a column cannot hold become null and are counted in
``frame.attrs["coercion_errors"]`` (see :func:`coercion_errors`).
"""

from extend_assets.flatten.documents import DOCUMENT_COLUMNS, flatten_documents
from extend_assets.flatten.frames import CONFIDENCE_SUFFIX, coercion_errors
from extend_assets.flatten.line_items import LINE_ITEM_COLUMNS, flatten_line_items
from extend_assets.flatten.runs import SourceRef, extraction_schema, validation_results
from extend_assets.flatten.schema import ArrayField, ColumnSpec, array_fields, schema_columns
from extend_assets.flatten.splits import SPLIT_COLUMNS, flatten_splits

__all__ = [
    "CONFIDENCE_SUFFIX",
    "DOCUMENT_COLUMNS",
    "LINE_ITEM_COLUMNS",
    "SPLIT_COLUMNS",
    "ArrayField",
    "ColumnSpec",
    "SourceRef",
    "array_fields",
    "coercion_errors",
    "extraction_schema",
    "flatten_documents",
    "flatten_line_items",
    "flatten_splits",
    "schema_columns",
    "validation_results",
]
