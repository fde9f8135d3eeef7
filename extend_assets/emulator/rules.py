"""The emulator's "model": deterministic extraction and classification rules.

Each schema field's ``title`` is a label looked for in the text (``Invoice Number:
INV-1``; Markdown decoration ignored, case-insensitive, first match wins). An array
of objects comes from a table whose header cells are the item titles (Markdown
pipes or CSV rows). A value written with `` (?)`` is read with low confidence.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from extend_assets.emulator.config import Classification

LOW_CONFIDENCE = 0.55
HIGH_CONFIDENCE = 0.97
UNSURE = re.compile(r"\s*\(\?\)\s*$")
_DECORATION = re.compile(r"^[\s#>*\-+]+")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF"}
_CURRENCY = re.compile(
    r"^(?P<pre>[A-Z]{3}|[€$£¥₹])?\s*(?P<num>-?[\d.,\s]+?)\s*(?P<post>[A-Z]{3}|[€$£¥₹])?$"
)
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y",
                "%d.%m.%Y", "%B %d %Y", "%b %d %Y")  # fmt: skip
TRUE = {"yes", "y", "true", "paid", "1"}
FALSE = {"no", "n", "false", "unpaid", "0"}


@dataclass
class Scanned:
    """What the text holds: label → raw value, and tables as lists of header → cell."""

    labels: dict[str, str] = field(default_factory=dict)
    tables: list[list[dict[str, str]]] = field(default_factory=list)


@dataclass
class Extracted:
    value: dict[str, Any]
    metadata: dict[str, dict[str, Any]]
    min_confidence: float | None


def scan(text: str, csv_mode: bool = False) -> Scanned:
    found = Scanned()
    rows = _csv_rows(text) if csv_mode else None
    if rows is not None:
        _scan_rows(rows, found)
        return found
    table: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            if not _SEPARATOR.match(stripped):
                table.append([c.strip() for c in stripped.strip("|").split("|")])
            continue
        if table:
            _add_table(table, found)
            table = []
        clean = _EMPHASIS.sub("", _DECORATION.sub("", line)).strip()
        if ":" in clean:
            label, _, value = clean.partition(":")
            key = label.strip().lower()
            if key and len(key) <= 80:
                found.labels.setdefault(key, value.strip())
    return found


def _csv_rows(text: str) -> list[list[str]] | None:
    try:
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error:
        return None


def _scan_rows(rows: list[list[str]], found: Scanned) -> None:
    table: list[list[str]] = []
    for row in rows:
        cells = [c for c in row]
        if len(cells) > 2:
            table.append(cells)
            continue
        if table:
            _add_table(table, found)
            table = []
        if len(cells) == 2 and cells[0]:
            found.labels.setdefault(cells[0].rstrip(":").strip().lower(), cells[1])
    if table:
        _add_table(table, found)


def _add_table(rows: list[list[str]], found: Scanned) -> None:
    header = [h.strip().lower() for h in _EMPHASIS.sub("", "|".join(rows[0])).split("|")]
    found.tables.append([dict(zip(header, row, strict=False)) for row in rows[1:]])


def classify(
    text: str, classifications: tuple[Classification, ...]
) -> tuple[Classification, float]:
    lowered = text.lower()
    scores = [sum(lowered.count(k) for k in c.keywords) for c in classifications]
    best = max(range(len(classifications)), key=lambda i: (scores[i], -i))
    total = sum(scores)
    confidence = 0.3 if total == 0 else round(min(0.99, 0.5 + 0.5 * scores[best] / total), 3)
    return classifications[best], confidence


def extract(text: str, schema: Mapping[str, Any], csv_mode: bool = False) -> Extracted:
    scanned = scan(text, csv_mode)
    defs = schema.get("$defs") or schema.get("definitions") or {}
    metadata: dict[str, dict[str, Any]] = {}
    value = _object(schema, scanned.labels, scanned, defs, "", metadata)
    confidences = [m["logprobsConfidence"] for m in metadata.values()]
    return Extracted(value, metadata, min(confidences) if confidences else None)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return dict(node)


def is_currency(node: Mapping[str, Any]) -> bool:
    props = node.get("properties") or {}
    return node.get("extend:type") == "currency" or {"amount", "iso_4217_currency_code"} <= set(
        props
    )


def _object(
    node: Mapping[str, Any],
    labels: Mapping[str, str],
    scanned: Scanned,
    defs: Mapping[str, Any],
    prefix: str,
    metadata: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw_child in (node.get("properties") or {}).items():
        child = _resolve(raw_child, defs)
        path = f"{prefix}{name}"
        kind = child.get("type")
        if is_currency(child):
            out[name] = _leaf(child, labels, path, metadata, currency=True)
        elif kind == "object":
            out[name] = _object(child, labels, scanned, defs, path + ".", metadata)
        elif kind == "array":
            items = _resolve(child.get("items") or {}, defs)
            out[name] = _array(items, scanned, defs, path, metadata)
        else:
            out[name] = _leaf(child, labels, path, metadata)
    return out


def _array(
    items: Mapping[str, Any],
    scanned: Scanned,
    defs: Mapping[str, Any],
    path: str,
    metadata: dict[str, dict[str, Any]],
) -> list[Any]:
    if items.get("type") != "object":
        return []
    titles = {
        str(_resolve(c, defs).get("title", n)).lower()
        for n, c in (items.get("properties") or {}).items()
    }
    for table in scanned.tables:
        if table and len(titles & set(table[0])) >= 2:
            return [
                _object(items, row, scanned, defs, f"{path}[{i}].", metadata)
                for i, row in enumerate(table)
            ]
    return []


def _leaf(
    node: Mapping[str, Any],
    labels: Mapping[str, str],
    path: str,
    metadata: dict[str, dict[str, Any]],
    currency: bool = False,
) -> Any:
    label = str(node.get("title") or path.rsplit(".", 1)[-1]).lower()
    raw = labels.get(label)
    if raw is None or not raw.strip():
        return None
    unsure = bool(UNSURE.search(raw))
    text = UNSURE.sub("", raw).strip()
    value = parse_currency(text) if currency else parse_value(text, node)
    if value is None:
        return None
    metadata[path] = {
        "ocrConfidence": None,
        "logprobsConfidence": LOW_CONFIDENCE if unsure else HIGH_CONFIDENCE,
        "reviewAgentScore": None,
        "citations": [{"page": 1, "pageWidth": 612.0, "pageHeight": 792.0, "referenceText": text}],
        "insights": [],
    }
    return value


def parse_value(text: str, node: Mapping[str, Any]) -> Any:
    kind = node.get("type")
    if node.get("enum"):
        wanted = re.sub(r"[\s\-]+", "_", text.strip()).upper()
        return next((e for e in node["enum"] if str(e).upper() == wanted), None)
    if kind == "string" and node.get("format") == "date":
        parsed = parse_date(text)
        return parsed.isoformat() if parsed else None
    if kind in ("number", "integer"):
        number = parse_number(text)
        if number is None:
            return None
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        lowered = text.strip().lower()
        return True if lowered in TRUE else False if lowered in FALSE else None
    return text


def parse_number(text: str) -> float | None:
    cleaned = re.sub(r"[\s,€$£¥₹%]", "", text)
    try:
        return float(cleaned)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    text = text.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if match:
        first, second, year = (int(g) for g in match.groups())
        day, month = (first, second) if first > 12 else (second, first)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None


def parse_currency(text: str) -> dict[str, Any] | None:
    match = _CURRENCY.match(text.strip())
    if not match:
        return None
    amount = parse_number(match.group("num"))
    if amount is None:
        return None
    mark = match.group("pre") or match.group("post")
    code = SYMBOLS.get(mark, mark) if mark else None
    return {"amount": amount, "iso_4217_currency_code": code}
