"""The workflow's extraction schema: the union of every extractor's schema ever seen.

A day's runs do not say which columns the table has: an all-failed or an empty day
carries no schema at all, a new schema field appears on one day, and a workflow that
routes documents to different extractors (or runs two extract steps) carries a
different schema per extractor. So the tables' columns follow this union, kept
durably by the caller (the Dagster layer keeps it in the runs asset's metadata), never the runs that happened to arrive.

A field two extractors type differently (``total`` a number in one, a currency in
the other) is kept apart: the later extractor's field becomes ``total__<extractor>``
(:attr:`WorkflowSchema.renames`), and :meth:`WorkflowSchema.rewrite` renames it in
that extractor's outputs before flattening. Nothing is coerced silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from extend_assets import flatten
from extend_assets.flatten.runs import is_json_output, processor_runs, processor_type

DEF_KEYS = ("$defs", "definitions")
OUTPUT_KEYS = ("output", "initialOutput", "reviewedOutput")
Extractor = tuple[str, Mapping[str, Any]]


@dataclass
class WorkflowSchema:
    """Top-level properties in first-seen order, their definitions, and per-extractor
    renames of the fields that collide with another extractor's type."""

    properties: dict[str, Any] = field(default_factory=dict)
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    renames: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, schema: Mapping[str, Any] | None, extractor: str = "") -> bool:
        """Merge one extractor's schema in; True when the union changed."""
        if not schema:
            return False
        before = self.to_text()
        for key in DEF_KEYS:
            for name, node in (schema.get(key) or {}).items():
                self.defs.setdefault(key, {}).setdefault(str(name), node)
        for name, node in (schema.get("properties") or {}).items():
            self._add_property(str(name), node, schema, extractor)
        return self.to_text() != before

    def _add_property(
        self, name: str, node: Any, schema: Mapping[str, Any], extractor: str
    ) -> None:
        mine = signature(node, schema)
        target = self.renames.get(extractor, {}).get(name, name)
        if target not in self.properties:
            self.properties[target] = node
            return
        if signature(self.properties[target], self.as_json_schema() or {}) == mine:
            return
        renamed = f"{name}__{slug(extractor) or 'extractor'}"
        suffix = 2
        while renamed in self.properties and (
            signature(self.properties[renamed], self.as_json_schema() or {}) != mine
        ):
            renamed = f"{name}__{slug(extractor) or 'extractor'}_{suffix}"
            suffix += 1
        self.renames.setdefault(extractor, {})[name] = renamed
        self.properties.setdefault(renamed, node)

    def update(self, other: WorkflowSchema) -> bool:
        """Merge another union in (fields, definitions and renames this one lacks)."""
        before = self.to_text()
        for key, definitions in other.defs.items():
            for name, node in definitions.items():
                self.defs.setdefault(key, {}).setdefault(name, node)
        for extractor, renames in other.renames.items():
            for name, target in renames.items():
                self.renames.setdefault(extractor, {}).setdefault(name, target)
        for name, node in other.properties.items():
            self.properties.setdefault(name, node)
        return self.to_text() != before

    def rewrite(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """The run with each renamed field renamed in its extractor's outputs."""
        if not self.renames:
            return raw
        outputs = processor_runs(raw)
        changed = False
        new_outputs: list[Any] = []
        for index, processor_run in enumerate(outputs):
            renames = self.renames.get(extractor_name(processor_run, index), {})
            if renames and processor_type(processor_run) == "EXTRACT":
                processor_run = renamed_outputs(processor_run, renames)
                changed = True
            new_outputs.append(processor_run)
        return {**raw, "outputs": new_outputs} if changed else raw

    def as_json_schema(self) -> dict[str, Any] | None:
        if not self.properties:
            return None
        return {"type": "object", "properties": dict(self.properties), **self.defs}

    def to_json(self) -> dict[str, Any]:
        return {"properties": self.properties, "defs": self.defs, "renames": self.renames}

    def to_text(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WorkflowSchema:
        data = data or {}
        return cls(
            properties=dict(data.get("properties") or {}),
            defs={str(k): dict(v) for k, v in (data.get("defs") or {}).items()},
            renames={str(k): dict(v) for k, v in (data.get("renames") or {}).items()},
        )


def signature(node: Any, schema: Mapping[str, Any]) -> str:
    """What a field becomes in the tables: its columns' names and kinds."""
    single = {
        "type": "object",
        "properties": {"f": node},
        **{k: schema[k] for k in DEF_KEYS if k in schema},
    }
    columns = [(c.name, c.kind) for c in flatten.schema_columns(single)]
    arrays = [(a.name, [(c.name, c.kind) for c in a.columns]) for a in flatten.array_fields(single)]
    return json.dumps([columns, arrays])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def extractor_name(processor_run: Mapping[str, Any], index: int) -> str:
    """An extractor's identity across runs: its name, else its id (2025
    ``processorName`` / ``processorId``; 2026 ``extractor.name`` / ``extractor.id``)."""
    extractor = processor_run.get("extractor")
    nested = extractor if isinstance(extractor, Mapping) else {}
    for value in (
        processor_run.get("processorName"),
        nested.get("name"),
        processor_run.get("processorId"),
        nested.get("id"),
    ):
        if isinstance(value, str) and value:
            return value
    return f"extract_{index}"


def extractor_key(name: str, schema: Mapping[str, Any]) -> bytes:
    """What tells two (extractor, schema) pairs apart: their JSON, keys sorted. Made
    for every run written, so with orjson (a tenth of the standard library's time)."""
    return orjson.dumps(
        [name, schema], default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )


def extractors_seen(raws: Iterable[Mapping[str, Any]]) -> list[Extractor]:
    """Every distinct (extractor, schema) of these runs, in order of appearance."""
    seen: dict[bytes, Extractor] = {}
    for raw in raws:
        for index, processor_run in enumerate(processor_runs(raw)):
            if processor_type(processor_run) != "EXTRACT":
                continue
            schema = flatten.extraction_schema({"outputs": [processor_run]})
            if schema:
                name = extractor_name(processor_run, index)
                seen.setdefault(extractor_key(name, schema), (name, schema))
    return list(seen.values())


def renamed_outputs(processor_run: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """An EXTRACT processor run with its fields (values and metadata paths) renamed."""
    out = dict(processor_run)
    for key in OUTPUT_KEYS:
        output = out.get(key)
        if not isinstance(output, Mapping) or not output:
            continue
        if is_json_output(output, out.get("config")):
            value, metadata = output.get("value"), output.get("metadata")
            out[key] = {
                **output,
                "value": _renamed_keys(value, renames) if isinstance(value, Mapping) else value,
                "metadata": _renamed_paths(metadata, renames)
                if isinstance(metadata, Mapping)
                else metadata,
            }
        else:
            out[key] = _renamed_keys(output, renames)
    return out


def _renamed_keys(value: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    return {renames.get(k, k): v for k, v in value.items()}


def _renamed_paths(metadata: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """``total``, ``total.amount``, ``total[0]`` → under the renamed field."""
    out: dict[str, Any] = {}
    for path, entry in metadata.items():
        head = path_head(path)
        out[renames[head] + path[len(head) :] if head in renames else path] = entry
    return out


def path_head(path: str) -> str:
    """A metadata path's top-level field: ``total`` of ``total.amount`` and ``total[0]``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]
