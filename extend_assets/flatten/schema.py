"""A typed column plan from an extraction JSON Schema.

The plan is computed once per table and drives a single pass over the runs: each
column knows its path into the extracted value, its kind (which converter and
dtype it gets) and the metadata key its confidence is read from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from extend_assets.flatten.coerce import TEXT

Kind = Literal["string", "number", "integer", "boolean", "date", "datetime", "json"]

#: The pandas dtype of each kind. A ``date`` is a naive ``datetime64[ns]`` at midnight
#: (pandas has no native date dtype; ``.dt.date`` gives ``datetime.date`` objects);
#: a ``datetime`` is tz-aware UTC. ``json`` holds objects and arrays without a plan,
#: serialized as JSON text.
DTYPES: dict[str, Any] = {
    "string": TEXT,
    "number": "Float64",
    "integer": "Int64",
    "boolean": "boolean",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns, UTC]",
    "json": TEXT,
}

_SCALAR_KINDS: dict[str, Kind] = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "json": "json",
}
CURRENCY_KEYS = frozenset({"amount", "iso_4217_currency_code"})
_MAX_DEPTH = 32
_MAX_NESTING = 8


@dataclass(frozen=True)
class ColumnSpec:
    """One typed column: where its value lives and how it is typed.

    ``path`` is the key path into the extracted value (for line items: into one
    item). ``confidence_key`` is the metadata path its confidence comes from; the
    two columns of a currency share the currency field's key.
    """

    name: str
    path: tuple[str, ...]
    kind: Kind
    confidence_key: str
    enum: tuple[str, ...] | None = None

    @property
    def dtype(self) -> Any:
        return DTYPES[self.kind]


@dataclass(frozen=True)
class ArrayField:
    """An array-of-objects field: its elements become rows of the line items table."""

    name: str
    path: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class Plan:
    """Columns of the documents table and the array fields of the line items table."""

    columns: tuple[ColumnSpec, ...]
    arrays: tuple[ArrayField, ...]


def schema_columns(schema: Mapping[str, Any] | None) -> list[ColumnSpec]:
    """The scalar columns of the documents table, in schema order.

    ``$ref`` (to ``#/$defs`` or ``#/definitions``) is resolved; nested objects give
    dotted names (``vendor.name``); a currency (``"extend:type": "currency"``, or an
    object with exactly ``amount`` and ``iso_4217_currency_code``) gives
    ``<name>.amount`` and ``<name>.currency``; arrays of objects are left out (they
    are line items, see :func:`array_fields`); other arrays and free-form objects
    become one JSON text column.
    """
    return list(plan_of(schema).columns)


def array_fields(schema: Mapping[str, Any] | None) -> list[ArrayField]:
    """The array-of-objects fields of a schema, each with its item column plan."""
    return list(plan_of(schema).arrays)


def plan_of(schema: Mapping[str, Any] | None) -> Plan:
    if not schema:
        return Plan((), ())
    columns: list[ColumnSpec] = []
    arrays: list[ArrayField] = []
    _walk_object(schema, schema, (), columns, arrays, depth=0)
    return Plan(tuple(_unique(columns)), tuple(arrays))


def resolve(node: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """A schema node with ``$ref``, ``allOf``, ``anyOf``/``oneOf`` with null, and
    ``type: [x, "null"]`` folded away, so that its kind can be read directly."""
    if not isinstance(node, Mapping):
        return {}
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = _follow_ref(ref, root)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and all_of:
            node = _merge_all_of(node, all_of, root)
            continue
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if isinstance(branches, list) and branches:
                node = _pick_branch(node, keyword, branches, root)
                break
        else:
            break
    types = node.get("type")
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        node = {**node, "type": non_null[0] if len(non_null) == 1 else None}
    return node


def kind_of(node: Mapping[str, Any]) -> str:
    """``object``, ``currency``, ``array`` or a scalar :data:`Kind` of a resolved node."""
    if is_currency(node):
        return "currency"
    node_type = node.get("type")
    if node_type == "object" or (node_type is None and isinstance(node.get("properties"), Mapping)):
        return "object" if node.get("properties") else "json"
    if node_type == "array":
        return "array"
    if node_type == "string" or (node_type is None and isinstance(node.get("enum"), list)):
        fmt = node.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "datetime"
        return "string"
    if node_type == "number":
        return "number"
    if node_type == "integer":
        return "integer"
    if node_type == "boolean":
        return "boolean"
    return "json"


def is_currency(node: Mapping[str, Any]) -> bool:
    if node.get("extend:type") == "currency":
        return True
    properties = node.get("properties")
    return isinstance(properties, Mapping) and set(properties) == CURRENCY_KEYS


def _walk_object(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    prefix: tuple[str, ...],
    columns: list[ColumnSpec],
    arrays: list[ArrayField] | None,
    *,
    depth: int,
) -> None:
    """Add the columns of an object's properties; arrays of objects go to ``arrays``
    (or become JSON columns when ``arrays`` is None: inside line items)."""
    node = resolve(node, root)
    properties = node.get("properties")
    if not isinstance(properties, Mapping) or depth > _MAX_DEPTH:
        return
    for key, child_raw in properties.items():
        path = (*prefix, str(key))
        name = ".".join(path)
        child = resolve(child_raw, root)
        kind = kind_of(child)
        if kind == "object" and depth >= _MAX_NESTING:
            columns.append(ColumnSpec(name, path, "json", name))  # e.g. a recursive schema
        elif kind == "object":
            _walk_object(child, root, path, columns, arrays, depth=depth + 1)
        elif kind == "currency":
            columns.append(ColumnSpec(f"{name}.amount", (*path, "amount"), "number", name))
            columns.append(
                ColumnSpec(f"{name}.currency", (*path, "iso_4217_currency_code"), "string", name)
            )
        elif kind == "array":
            items = resolve(child.get("items"), root)
            if arrays is not None and kind_of(items) == "object":
                item_columns: list[ColumnSpec] = []
                _walk_object(items, root, (), item_columns, None, depth=depth + 1)
                arrays.append(ArrayField(name, path, tuple(_unique(item_columns))))
            else:
                columns.append(ColumnSpec(name, path, "json", name))
        else:
            enum = child.get("enum")
            enum_values = (
                tuple(str(v) for v in enum if v is not None) if isinstance(enum, list) else None
            )
            columns.append(ColumnSpec(name, path, _SCALAR_KINDS[kind], name, enum_values))


def _follow_ref(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    target: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        target = target.get(part) if isinstance(target, Mapping) else None
    return target if isinstance(target, Mapping) else {}


def _merge_all_of(
    node: Mapping[str, Any], all_of: list[Any], root: Mapping[str, Any]
) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    for part in all_of:
        resolved = resolve(part, root)
        properties.update(resolved.get("properties") or {})
        for k, v in resolved.items():
            if k != "properties":
                merged.setdefault(k, v)
    if properties:
        merged["properties"] = properties
    return merged


def _pick_branch(
    node: Mapping[str, Any], keyword: str, branches: list[Any], root: Mapping[str, Any]
) -> dict[str, Any]:
    rest = {k: v for k, v in node.items() if k != keyword}
    non_null = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")]
    if len(non_null) == 1:
        return {**resolve(non_null[0], root), **rest}
    kinds = {kind_of(resolve(b, root)) for b in non_null}
    if len(kinds) == 1 and kinds <= {"string", "number", "integer", "boolean", "date", "datetime"}:
        return {**resolve(non_null[0], root), **rest}
    if kinds <= {"number", "integer"}:
        return {"type": "number", **rest}
    return {"type": "string" if kinds <= {"string", "date", "datetime"} else None, **rest}


def _unique(columns: list[ColumnSpec]) -> list[ColumnSpec]:
    seen: dict[str, ColumnSpec] = {}
    for column in columns:
        seen.setdefault(column.name, column)
    return list(seen.values())
