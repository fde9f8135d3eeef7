"""JSON Schemas for when none is given: inferred from values, or read from legacy fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_CURRENCY_DEF = {
    "type": "object",
    "extend:type": "currency",
    "properties": {"amount": {"type": "number"}, "iso_4217_currency_code": {"type": "string"}},
}


class _Seen:
    """What one path held across all values: the JSON kinds, and children."""

    __slots__ = ("children", "items", "kinds")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.children: dict[str, _Seen] = {}
        self.items: _Seen | None = None

    def add(self, value: Any, depth: int = 0) -> None:
        if value is None or depth > 32:
            return
        if isinstance(value, bool):
            self.kinds.add("boolean")
        elif isinstance(value, int):
            self.kinds.add("integer")
        elif isinstance(value, float):
            self.kinds.add("number")
        elif isinstance(value, str):
            if _ISO_DATE.match(value):
                self.kinds.add("date")
            elif _ISO_DATETIME.match(value):
                self.kinds.add("datetime")
            else:
                self.kinds.add("string")
        elif isinstance(value, Mapping):
            self.kinds.add("object")
            for key, child in value.items():
                seen = self.children.get(key)
                if seen is None:
                    seen = self.children[key] = _Seen()
                seen.add(child, depth + 1)
        elif isinstance(value, list | tuple):
            self.kinds.add("array")
            if self.items is None:
                self.items = _Seen()
            for item in value:
                self.items.add(item, depth + 1)
        else:
            self.kinds.add("string")

    def schema(self) -> dict[str, Any]:
        kinds = self.kinds
        if kinds == {"object"}:
            if set(self.children) == {"amount", "iso_4217_currency_code"}:
                return dict(_CURRENCY_DEF)
            return {
                "type": "object",
                "properties": {k: v.schema() for k, v in self.children.items()},
            }
        if kinds == {"array"}:
            items = self.items.schema() if self.items is not None else {}
            return {"type": "array", "items": items}
        if not kinds:
            return {"type": "string"}
        if kinds <= {"integer"}:
            return {"type": "integer"}
        if kinds <= {"integer", "number"}:
            return {"type": "number"}
        if kinds == {"boolean"}:
            return {"type": "boolean"}
        if kinds == {"date"}:
            return {"type": "string", "format": "date"}
        if kinds <= {"date", "datetime"}:
            return {"type": "string", "format": "date-time"}
        if kinds & {"object", "array"}:
            return {}
        return {"type": "string"}


def infer_schema(values: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON Schema covering the union of keys seen in extracted values.

    Keys seen only with null become strings; ints become integers unless a float was
    also seen; strings that are all ISO dates become dates (ISO date-times:
    date-times); ``{amount, iso_4217_currency_code}`` objects become currencies;
    mixed kinds become strings (or JSON text when objects or arrays are involved).
    """
    root = _Seen()
    for value in values:
        root.add(value)
    root.kinds.add("object")
    return {"type": "object", "properties": {k: v.schema() for k, v in root.children.items()}}


_LEGACY_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "currency": _CURRENCY_DEF,
    "signature": {},
}


def legacy_field_schema(field: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one legacy field definition or field result.

    Both carry ``type`` and may carry ``schema`` (sub-fields of arrays and objects)
    and ``enum`` (``[{value, description}]``).
    """
    field_type = field.get("type")
    if field_type == "enum":
        options = field.get("enum") or []
        values = [o.get("value") if isinstance(o, Mapping) else o for o in options]
        return {"type": "string", "enum": [v for v in values if v is not None]}
    if field_type in ("array", "object"):
        sub_fields = field.get("schema")
        value = field.get("value")
        if isinstance(sub_fields, list) and sub_fields:
            shape = legacy_fields_schema(sub_fields)
        elif field_type == "object":
            shape = infer_schema([value] if isinstance(value, Mapping) else [])
        else:
            items = legacy_value(field)
            items = items if isinstance(items, list) else []
            shape = infer_schema([i for i in items if isinstance(i, Mapping)])
        return shape if field_type == "object" else {"type": "array", "items": shape}
    return dict(_LEGACY_TYPES.get(str(field_type), {"type": "string"}))


def legacy_fields_schema(fields: Iterable[Any]) -> dict[str, Any]:
    """A JSON Schema from a legacy ``fields`` list (config) of ``{id, name, type, ...}``."""
    properties: dict[str, Any] = {}
    for field in fields:
        if isinstance(field, Mapping):
            name = field.get("name") or field.get("id")
            if name is not None:
                properties.setdefault(str(name), legacy_field_schema(field))
    return {"type": "object", "properties": properties}


def legacy_output_schema(outputs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON Schema from legacy FieldsArray outputs (field name → field result)."""
    properties: dict[str, Any] = {}
    for output in outputs:
        for name, field in output.items():
            if name not in properties and isinstance(field, Mapping):
                properties[name] = legacy_field_schema(field)
    return {"type": "object", "properties": properties}


def legacy_value(field: Mapping[str, Any]) -> Any:
    """The plain value of a legacy field result; array items and objects whose entries
    are themselves field results (``{id, type, value}``) are unwrapped."""
    value = field.get("value")
    if isinstance(value, list):
        return [_unwrap_entries(item) for item in value]
    if isinstance(value, Mapping) and field.get("type") == "object":
        return _unwrap_entries(value)
    return value


def _unwrap_entries(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    return {
        key: entry["value"]
        if isinstance(entry, Mapping) and "value" in entry and ("type" in entry or "id" in entry)
        else entry
        for key, entry in item.items()
    }
