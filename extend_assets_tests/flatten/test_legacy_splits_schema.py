"""Legacy FieldsArray outputs, SPLITTER outputs, the schema column plan, extraction_schema."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from extend_assets import flatten
from extend_assets.flatten import SPLIT_COLUMNS, SourceRef, array_fields, schema_columns
from extend_assets_tests.flatten import builders as b

LEGACY_FIELDS: list[dict[str, Any]] = [
    {"id": "f1", "name": "invoice_number", "type": "string"},
    {"id": "f2", "name": "invoice_date", "type": "date"},
    {"id": "f3", "name": "total", "type": "currency"},
    {"id": "f4", "name": "is_paid", "type": "boolean"},
    {"id": "f5", "name": "terms", "type": "enum", "enum": [{"value": "NET_30", "description": ""}]},
    {"id": "f6", "name": "pages", "type": "number"},
    {
        "id": "f7",
        "name": "vendor",
        "type": "object",
        "schema": [{"id": "f7a", "name": "name", "type": "string"}],
    },
    {
        "id": "f8",
        "name": "line_items",
        "type": "array",
        "schema": [
            {"id": "f8a", "name": "description", "type": "string"},
            {"id": "f8b", "name": "amount", "type": "number"},
        ],
    },
]


def legacy_output(**overrides: Any) -> dict[str, Any]:
    def field(
        name: str, kind: str, value: Any, confidence: float = 0.95, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": name,
            "type": kind,
            "value": value,
            "confidence": confidence,
            "references": [],
            **extra,
        }

    output = {
        "invoice_number": field("invoice_number", "string", "INV-7"),
        "invoice_date": field("invoice_date", "date", "2025-03-04"),
        "total": field("total", "currency", {"amount": 99.5, "iso_4217_currency_code": "EUR"}, 0.5),
        "is_paid": field("is_paid", "boolean", True),
        "terms": field("terms", "enum", "NET_30", enum=[{"value": "NET_30", "description": ""}]),
        "pages": field("pages", "number", "12"),
        "vendor": field("vendor", "object", {"name": "Acme"}, schema=LEGACY_FIELDS[6]["schema"]),
        "line_items": field(
            "line_items",
            "array",
            [{"description": "A", "amount": 5}, {"description": "B", "amount": 6.5}],
            0.8,
            schema=LEGACY_FIELDS[7]["schema"],
        ),
    }
    output.update(overrides)
    return output


def legacy_run(output: dict[str, Any] | None = None, run_id: str = "legacy1") -> dict[str, Any]:
    extract = b.processor_run(
        "EXTRACT",
        legacy_output() if output is None else output,
        config={"type": "EXTRACT", "fields": LEGACY_FIELDS},
    )
    return b.workflow_run(run_id, outputs=[extract])


@pytest.mark.parametrize("use_config_schema", [True, False])
def test_legacy_fields_array_flattens_with_types_and_confidence(use_config_schema: bool) -> None:
    run = legacy_run()
    schema = flatten.extraction_schema(run) if use_config_schema else None
    frame = flatten.flatten_documents([run], schema=schema)
    row = frame.iloc[0]
    assert row["invoice_number"] == "INV-7"
    assert row["invoice_date"] == pd.Timestamp("2025-03-04")
    assert row["total.amount"] == 99.5 and row["total.currency"] == "EUR"
    assert bool(row["is_paid"]) is True
    assert row["terms"] == "NET_30"
    assert row["pages"] == 12.0
    assert row["vendor.name"] == "Acme"
    assert row["invoice_number__confidence"] == 0.95
    assert row["total__confidence"] == 0.5
    assert row["vendor.name__confidence"] == 0.95  # the object field's confidence
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["invoice_date"] == "datetime64[ns]" and dtypes["pages"] == "Float64"
    assert dtypes["is_paid"] == "boolean"

    items = flatten.flatten_line_items([run], schema=schema)
    assert items["description"].tolist() == ["A", "B"]
    assert items["amount"].tolist() == [5.0, 6.5]
    assert items["amount__confidence"].tolist() == [0.8, 0.8]  # the array field's


def test_legacy_array_items_that_are_field_results_are_unwrapped() -> None:
    wrapped = [
        {
            "description": {"id": "d", "type": "string", "value": "A"},
            "amount": {"id": "a", "type": "number", "value": 5},
        }
    ]
    output = legacy_output(
        line_items={
            "id": "line_items",
            "type": "array",
            "value": wrapped,
            "confidence": 0.7,
            "references": [],
        }
    )
    items = flatten.flatten_line_items([legacy_run(output)])
    assert items["description"].tolist() == ["A"]
    assert items["amount"].tolist() == [5]


def test_legacy_output_without_config_is_recognized_by_shape() -> None:
    extract = b.processor_run("EXTRACT", legacy_output(), config={"type": "EXTRACT"})
    frame = flatten.flatten_documents([b.workflow_run(outputs=[extract])])
    assert frame.iloc[0]["invoice_number"] == "INV-7"
    assert frame.iloc[0]["total.amount"] == 99.5


def splitter_run() -> dict[str, Any]:
    splits = {
        "splits": [
            {
                "id": "split_1",
                "type": "invoice",
                "classificationId": "invoice",
                "observation": "An invoice on pages 1-2",
                "identifier": "INV-1",
                "startPage": 1,
                "endPage": 2,
                "fileId": "file_sub1",
                "name": "invoice-1",
            },
            {
                "id": "split_2",
                "type": "receipt",
                "classificationId": "receipt",
                "observation": "A receipt",
                "identifier": None,
                "startPage": 3,
                "endPage": 3,
                "fileId": "file_sub2",
            },
        ],
        "isExternal": False,
    }
    splitter = b.processor_run(
        "SPLITTER",
        splits,
        files=[{"object": "file", "id": "file_parent_of_split", "name": "all.pdf"}],
    )
    return b.workflow_run("split_run", outputs=[splitter, b.extract_run()])


def test_splitter_outputs_flatten_to_the_splits_table() -> None:
    frame = flatten.flatten_splits([splitter_run(), b.workflow_run(), b.failed_run()])
    assert list(frame.columns) == list(SPLIT_COLUMNS)
    assert frame["run_id"].tolist() == ["split_run", "split_run"]
    assert frame["split_id"].tolist() == ["split_1", "split_2"]
    assert frame["split_index"].tolist() == [0, 1]
    assert frame["type"].tolist() == ["invoice", "receipt"]
    assert frame["classification_id"].tolist() == ["invoice", "receipt"]
    assert frame["start_page"].tolist() == [1, 3] and frame["end_page"].tolist() == [2, 3]
    assert frame["file_id"].tolist() == ["file_sub1", "file_sub2"]
    assert frame.loc[0, "name"] == "invoice-1" and pd.isna(frame.loc[1, "name"])
    assert frame["parent_file_id"].tolist() == ["file_parent_of_split"] * 2
    assert frame["key"].tolist() == ["invoices/2025-01-15/inv-1.pdf"] * 2
    assert str(frame["start_page"].dtype) == "Int64"


def test_splits_take_the_source_and_fall_back_to_the_run_file() -> None:
    run = splitter_run()
    run["outputs"][0]["files"] = []
    frame = flatten.flatten_splits(
        [run], sources={"split_run": SourceRef("bk", "k.pdf", "e", "2025-01-01", None)}
    )
    assert frame["parent_file_id"].tolist() == ["file_parent000000000000000"] * 2
    assert frame["key"].tolist() == ["k.pdf"] * 2


def test_splits_of_nothing() -> None:
    frame = flatten.flatten_splits([])
    assert list(frame.columns) == list(SPLIT_COLUMNS) and len(frame) == 0
    assert str(frame["end_page"].dtype) == "Int64" and str(frame["run_id"].dtype) == "string"


def test_schema_columns_of_the_sample_schema() -> None:
    columns = {c.name: c for c in schema_columns(b.invoice_schema())}
    assert list(columns)[:5] == [
        "invoice_number",
        "invoice_date",
        "due_date",
        "purchase_order",
        "vendor.name",
    ]
    assert (
        columns["invoice_date"].kind == "date" and columns["invoice_date"].dtype == "datetime64[ns]"
    )
    assert columns["total.amount"].kind == "number" and columns["total.amount"].path == (
        "total",
        "amount",
    )
    assert columns["total.currency"].path == ("total", "iso_4217_currency_code")
    assert columns["total.currency"].confidence_key == "total"
    assert columns["is_paid"].dtype == "boolean"
    assert "line_items" not in columns
    (items,) = array_fields(b.invoice_schema())
    assert items.name == "line_items"
    assert [c.name for c in items.columns] == [
        "description",
        "sku",
        "quantity",
        "unit_price",
        "amount",
    ]


def test_schema_columns_resolve_refs_unions_and_odd_shapes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "count": {"type": ["integer", "null"]},
            "price": {"$ref": "#/definitions/price", "description": "sibling keywords survive"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "free": {"type": "object"},
            "either": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
            "combo": {"allOf": [{"$ref": "#/$defs/a"}, {"properties": {"b": {"type": "boolean"}}}]},
            "loop": {"$ref": "#/$defs/loop"},
            "dangling": {"$ref": "#/$defs/missing"},
        },
        "definitions": {
            "price": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "iso_4217_currency_code": {"type": "string"},
                },
            }
        },
        "$defs": {
            "a": {"type": "object", "properties": {"a": {"type": "string"}}},
            "loop": {"$ref": "#/$defs/loop"},
        },
    }
    kinds = {c.name: c.kind for c in schema_columns(schema)}
    assert kinds == {
        "when": "datetime",
        "count": "integer",
        "price.amount": "number",
        "price.currency": "string",
        "tags": "json",
        "free": "json",
        "either": "number",
        "combo.a": "string",
        "combo.b": "boolean",
        "loop": "json",
        "dangling": "json",
    }
    assert schema_columns(None) == [] and schema_columns({}) == []


def test_extraction_schema_reads_the_extract_config() -> None:
    assert flatten.extraction_schema(b.workflow_run()) == b.invoice_schema()
    assert flatten.extraction_schema(b.failed_run()) is None
    legacy = flatten.extraction_schema(legacy_run())
    assert legacy is not None
    assert legacy["properties"]["total"]["extend:type"] == "currency"
    assert legacy["properties"]["terms"] == {"type": "string", "enum": ["NET_30"]}
    assert legacy["properties"]["line_items"]["items"]["properties"]["amount"] == {"type": "number"}


def test_a_recursive_schema_stops_at_a_json_column() -> None:
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/node"}},
            }
        },
    }
    columns = schema_columns(schema)
    assert len(columns) < 20
    assert columns[-1].kind == "json" and columns[-1].name.endswith(".child")
