"""Raw JSON values of one column → one typed pandas array, counting the values dropped.

Every converter takes the whole column (a Python list) at once and returns the array
and the number of non-null inputs it could not read (they become null). Nothing
here raises on a bad value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from dateutil import parser as date_parser

Converted = tuple[Any, int]

#: Text columns are Arrow-backed: a value costs its bytes plus an offset instead of a
#: Python ``str`` object (about a third of the memory at 100k documents), and DuckDB
#: reads the buffers as they are. It compares equal to ``"string"``.
TEXT = pd.StringDtype("pyarrow")


class _Mismatch:
    """Marks a value whose path could not be followed (a scalar where an object was
    expected); every converter counts it as an error."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISMATCH"


MISMATCH: Any = _Mismatch()

_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?\Z")
_CURRENCY_SYMBOLS = "$€£¥₹"
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})
_INT64_MAX = 2**63 - 1
_NUMERIC = frozenset({float, int, type(None)})
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)\s*\Z", re.IGNORECASE)
_TEXT = frozenset({str, type(None)})
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)


def convert(kind: str, raw: list[Any]) -> Converted:
    """The typed array for a column of ``kind`` (see :data:`schema.DTYPES`)."""
    return _CONVERTERS[kind](raw)


def numbers(raw: list[Any]) -> Converted:
    if _NUMERIC.issuperset(map(type, raw)):  # the usual case: read in bulk
        try:
            values = np.array(raw, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: read one by one
            pass
        else:
            mask = ~np.isfinite(values)
            values[mask] = 0.0
            return pd.arrays.FloatingArray(values, mask), 0
    out: list[float | None] = []
    errors = 0
    for x in raw:
        number = None if x is None else parse_number(x)
        if number is None and x is not None:
            errors += not _is_blank(x)
        out.append(number)
    return numbers(out)[0], errors


def integers(raw: list[Any]) -> Converted:
    out: list[int | None] = []
    errors = 0
    for x in raw:
        if type(x) is int and -_INT64_MAX <= x <= _INT64_MAX:
            out.append(x)
            continue
        number = None if x is None else parse_number(x)
        if number is None or not number.is_integer() or abs(number) > _INT64_MAX:
            out.append(None)
            errors += x is not None and not _is_blank(x)
        else:
            out.append(int(number))
    mask = np.fromiter((x is None for x in out), dtype=bool, count=len(out))
    values = np.fromiter((0 if x is None else x for x in out), dtype=np.int64, count=len(out))
    return pd.arrays.IntegerArray(values, mask), errors


def booleans(raw: list[Any]) -> Converted:
    values = np.zeros(len(raw), dtype=bool)
    mask = np.zeros(len(raw), dtype=bool)
    errors = 0
    for i, x in enumerate(raw):
        if x is True:
            values[i] = True
        elif x is False:
            pass
        elif x is None:
            mask[i] = True
        else:
            flag = parse_bool(x)
            if flag is None:
                mask[i] = True
                errors += not _is_blank(x)
            else:
                values[i] = flag
    return pd.arrays.BooleanArray(values, mask), errors


def strings(raw: list[Any]) -> Converted:
    """Strings stay; numbers and booleans are written out; objects and arrays are errors."""
    if _TEXT.issuperset(map(type, raw)):  # the usual case: Arrow reads the list at once
        return pd.arrays.ArrowStringArray(pa.array(raw, type=pa.large_string())), 0
    errors = 0
    out: list[Any] = raw
    for i, x in enumerate(raw):
        if x is None or type(x) is str:
            continue
        if out is raw:
            out = list(raw)
        if isinstance(x, bool):
            out[i] = "true" if x else "false"
        elif isinstance(x, int | float):
            out[i] = None if isinstance(x, float) and not math.isfinite(x) else repr(x)
        else:
            out[i] = None
            errors += 1
    return pd.array(out, dtype=TEXT), errors


def json_text(raw: list[Any]) -> Converted:
    out = [
        None if x is None or x is MISMATCH else json.dumps(x, default=str, ensure_ascii=False)
        for x in raw
    ]
    return pd.array(out, dtype=TEXT), sum(1 for x in raw if x is MISMATCH)


def dates(raw: list[Any]) -> Converted:
    """ISO dates (``YYYY-MM-DD``, or the date part of an ISO date-time, as written) are
    read in bulk; other forms (``01/15/2025``, ``15 Jan 2025``) one by one, month first."""
    iso: list[Any] = [None] * len(raw)
    others: list[int] = []
    for i, x in enumerate(raw):
        if x is None:
            continue
        if type(x) is str and len(x) >= 10 and x[4] == "-" and x[7] == "-":
            iso[i] = x[:10]
        else:
            others.append(i)
    values = _naive_ns(pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce"))
    blanks = 0
    for i in others:
        if _is_blank(raw[i]):
            blanks += 1
            continue
        parsed = parse_loose(raw[i])
        if parsed is not None:
            values[i] = _as_ns(datetime(parsed.year, parsed.month, parsed.day))
    return pd.DatetimeIndex(values, dtype="datetime64[ns]"), _count_lost(raw, values) - blanks


def datetimes(raw: list[Any]) -> Converted:
    """ISO 8601 date-times (``...Z``, ``...+00:00``; naive ones are taken as UTC) in
    bulk, as UTC; other forms one by one."""
    # pandas applies one string's offset to the naive strings after it: mark naive ones UTC.
    texts = [_explicit_utc(x) if type(x) is str else None for x in raw]
    values = _naive_ns(pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce"))
    blanks = 0
    for i in np.flatnonzero(np.isnat(values)):
        x = raw[i]
        if x is None:
            continue
        if _is_blank(x):
            blanks += 1
            continue
        parsed = parse_loose(x)
        if parsed is not None:
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            values[i] = _as_ns(parsed)
    errors = _count_lost(raw, values) - blanks
    return pd.DatetimeIndex(values, dtype="datetime64[ns]").tz_localize("UTC"), errors


def parse_number(x: Any) -> float | None:
    """A finite float from a JSON number or a number written as text (``"1,234.50"``,
    ``"$12"``); None when it is not one."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        try:
            number = float(x)
        except OverflowError:
            return None
    elif isinstance(x, str):
        text = x.strip().strip(_CURRENCY_SYMBOLS).strip()
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_bool(x: Any) -> bool | None:
    if isinstance(x, str):
        text = x.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    if isinstance(x, int | float) and x in (0, 1):
        return bool(x)
    return None


def parse_loose(x: Any) -> datetime | None:
    """A datetime (as written: naive or aware) from text in a common form, or from a
    date/datetime; None when the text is not a complete date (``"12"``, ``"soon"``)."""
    if isinstance(x, datetime):
        return x
    if isinstance(x, date):
        return datetime(x.year, x.month, x.day)
    if not isinstance(x, str) or not x.strip():
        return None
    try:
        first = date_parser.parse(x, default=_DEFAULT_A)
        second = date_parser.parse(x, default=_DEFAULT_B)
    except (ValueError, OverflowError, TypeError):
        return None
    if first.date() != second.date():
        return None  # a part of the date was missing and got filled in by the default
    return first


def _explicit_utc(text: str) -> str:
    if len(text) > 11 and text[-1] in "Zz":  # the usual ``...Z``: what the search finds
        return text
    if len(text) == 10:
        return text + "T00:00:00Z"
    if len(text) > 10 and not _OFFSET.search(text, 11):
        return text + "Z"
    return text


def _is_blank(x: Any) -> bool:
    return type(x) is str and not x.strip()


def _naive_ns(index: pd.DatetimeIndex) -> np.ndarray:
    if index.tz is not None:
        index = index.tz_convert(None)
    return index.to_numpy(dtype="datetime64[ns]", copy=True)


def _as_ns(moment: datetime) -> np.datetime64:
    try:
        return pd.Timestamp(moment).as_unit("ns").to_datetime64()
    except (ValueError, OverflowError):  # out of the datetime64[ns] range
        return np.datetime64("NaT", "ns")


def _count_lost(raw: list[Any], values: np.ndarray) -> int:
    nat = np.isnat(values)
    if not nat.any():
        return 0
    return sum(1 for i in np.flatnonzero(nat) if raw[i] is not None)


_CONVERTERS: dict[str, Callable[[list[Any]], Converted]] = {
    "string": strings,
    "number": numbers,
    "integer": integers,
    "boolean": booleans,
    "date": dates,
    "datetime": datetimes,
    "json": json_text,
}
