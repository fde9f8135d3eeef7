"""Tables analysts like: column names that need no quoting, money as DECIMAL, dates as DATE.

The flattened frames name a field by its path (``vendor.name``, ``total.amount``,
``vendor.name__confidence``); SQL then needs quotes. Here every column gets a plain
snake_case name (``vendor_name``, ``total_amount``, ``vendor_name_confidence``),
never a reserved word, never the name of another column (a clash gets ``_2``), and
each renamed column remembers its field path and the schema's description, for the
column schema the UI shows. Currency amounts become ``DECIMAL(20,4)`` (every ISO
4217 minor unit fits), date fields and ``partition_date`` become ``DATE``.

Pure pandas and pyarrow; no Dagster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from extend_assets import flatten
from extend_assets.flatten.schema import ColumnSpec, resolve

CONFIDENCE = "__confidence"
DECIMAL_TYPE = pa.decimal128(20, 4)
DATE_DTYPE = pd.ArrowDtype(pa.date32())
_QUANTUM = Decimal("0.0001")
# DuckDB's reserved keywords (``select keyword_name from duckdb_keywords() where
# keyword_category = 'reserved'``): a column named so needs quotes, so it gets a ``_``.
RESERVED = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "default",
        "deferrable",
        "desc",
        "describe",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lambda",
        "lateral",
        "leading",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "pivot",
        "pivot_longer",
        "pivot_wider",
        "placing",
        "primary",
        "qualify",
        "references",
        "returning",
        "select",
        "show",
        "some",
        "summarize",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "unpivot",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ]
)


@dataclass(frozen=True)
class ColumnInfo:
    """Where a stored column comes from: its field path and the schema's description."""

    name: str
    field: str | None = None
    """The Extend field's path (``vendor.name``); None for the pipeline's own columns."""
    description: str | None = None
    confidence: bool = False


def sql_name(text: str) -> str:
    """``vendor.name`` -> ``vendor_name``; ``invoiceNumber`` -> ``invoice_number``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    name = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_").lower()
    name = re.sub(r"_+", "_", name) or "field"
    if name[0].isdigit():
        name = f"f_{name}"
    return f"{name}_" if name in RESERVED else name


def field_description(schema: Mapping[str, Any] | None, path: Sequence[str]) -> str | None:
    """The ``description`` (else ``title``) of the schema node at ``path`` ($ref resolved)."""
    if not schema:
        return None
    node: Mapping[str, Any] = resolve(schema, schema)
    described: str | None = None
    for part in path:
        properties = node.get("properties")
        child = properties.get(part) if isinstance(properties, Mapping) else None
        if not isinstance(child, Mapping):
            return described
        node = resolve(child, schema)
        text = node.get("description") or node.get("title")
        described = text if isinstance(text, str) else None
    return described


def _specs(schema: Mapping[str, Any] | None, line_items: bool) -> dict[str, ColumnSpec]:
    if not schema:
        return {}
    if line_items:
        return {c.name: c for a in flatten.array_fields(schema) for c in a.columns}
    return {c.name: c for c in flatten.schema_columns(schema)}


def _is_currency_amount(spec: ColumnSpec) -> bool:
    return spec.path[-1:] == ("amount",) and spec.confidence_key != spec.name


def analyst_frame(
    frame: pd.DataFrame,
    schema: Mapping[str, Any] | None,
    *,
    fixed: Sequence[str],
    line_items: bool = False,
) -> tuple[pd.DataFrame, list[ColumnInfo]]:
    """Rename, type and describe ``frame``'s columns; ``fixed`` columns keep their names."""
    specs = _specs(schema, line_items)
    taken: set[str] = set()
    renames: dict[str, str] = {}
    infos: dict[str, ColumnInfo] = {}
    ordered = [c for c in frame.columns if c in fixed] + [
        c for c in frame.columns if c not in fixed
    ]
    for column in ordered:
        original = str(column)
        base, confidence = original, original.endswith(CONFIDENCE)
        if confidence:
            base = original.removesuffix(CONFIDENCE)
        wanted = (
            original if column in fixed else sql_name(base) + ("_confidence" if confidence else "")
        )
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted}_{n}"
        taken.add(name)
        renames[original] = name
        infos[name] = _info(name, base, confidence, specs.get(base), schema)
    # Renamed in place of a copy: the names are unique and keep the frame's order.
    out = frame.rename(columns=renames, copy=False)
    for original, name in renames.items():
        spec = specs.get(original)
        if spec is not None and _is_currency_amount(spec):
            out[name] = as_decimal(out[name])
        elif (spec is not None and spec.kind == "date") or original == "partition_date":
            out[name] = as_date(out[name])
    return out, [infos[str(name)] for name in out.columns]


def _info(
    name: str,
    base: str,
    confidence: bool,
    spec: ColumnSpec | None,
    schema: Mapping[str, Any] | None,
) -> ColumnInfo:
    if confidence:  # also an object field's own (``total__confidence``): no spec of its own
        return ColumnInfo(name, base, "confidence, 0..1", confidence=True)
    if spec is None:
        return ColumnInfo(name)
    described = field_description(schema, spec.path) or field_description(schema, spec.path[:-1])
    return ColumnInfo(name, base, described)


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    try:
        return Decimal(str(value)).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError):
        return None


def as_decimal(series: pd.Series) -> pd.Series:
    fast = _exact_decimals(series)
    if fast is not None:
        return pd.Series(pd.arrays.ArrowExtensionArray(fast), index=series.index, name=series.name)
    values = [_to_decimal(v) for v in series.astype(object)]
    return pd.Series(
        pd.array(values, dtype=pd.ArrowDtype(DECIMAL_TYPE)), index=series.index, name=series.name
    )


#: Below this, doubles are less than half of 0.0001 apart: a double that is the
#: nearest one to a number of four decimals is read as exactly that number.
_EXACT_BELOW = 1e11


def _exact_decimals(series: pd.Series) -> pa.Array | None:
    """A float column whose every value has at most four decimals (money: the usual
    case), as ``DECIMAL(20,4)`` without a ``Decimal`` per value; None otherwise.

    Such a value ``v`` is ``n / 10**4`` for the integer ``n = rint(v * 10**4)``; it is
    what ``Decimal(str(v)).quantize(0.0001)`` (:func:`_to_decimal`) reads, and a
    decimal array stores exactly ``n`` (its unscaled integer).
    """
    if series.dtype.kind != "f":  # float64 and Float64; text or integers: value by value
        return None
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    null = np.isnan(values)
    with np.errstate(all="ignore"):
        scaled = np.rint(values * 10_000)
        exact = (np.abs(values) < _EXACT_BELOW) & (scaled / 10_000 == values)
    if not (exact | null).all():
        return None
    units = pa.array(np.where(null, 0.0, scaled).astype(np.int64), mask=null)
    unscaled = units.cast(pa.decimal128(DECIMAL_TYPE.precision, 0))
    return pa.Array.from_buffers(DECIMAL_TYPE, len(unscaled), unscaled.buffers())


def as_date(series: pd.Series) -> pd.Series:
    """Dates (``DATE``) of a column of dates, date-times or text; unreadable ones null.
    Converted in Arrow, not value by value."""
    if series.dtype == DATE_DTYPE:
        return series
    # Date-times already (the flattened date fields, partition_date): no parsing pass.
    dtype = series.dtype
    as_is = isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    )
    stamps = series if as_is else pd.to_datetime(series, errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    moments = pa.array(stamps.to_numpy(dtype="datetime64[ns]"), from_pandas=True)
    days = pd.arrays.ArrowExtensionArray(moments.cast(pa.date32()))
    return pd.Series(days, index=series.index, name=series.name)
