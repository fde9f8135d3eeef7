"""The line items table: one row per element of each array-of-objects field."""

from __future__ import annotations

from typing import Any

import pandas as pd

from extend_assets import flatten
from extend_assets.flatten import LINE_ITEM_COLUMNS, SourceRef, coercion_errors
from extend_assets_tests.flatten import builders as b

SCHEMA = b.invoice_schema()
ITEM_COLUMNS = ["description", "sku", "quantity", "unit_price", "amount"]


def run_with(value: dict[str, Any], run_id: str = "r1", **kwargs: Any) -> dict[str, Any]:
    return b.workflow_run(run_id, outputs=[b.extract_run(value, **kwargs)])


def test_one_row_per_item_with_typed_columns_and_confidences() -> None:
    value = b.invoice_value()
    metadata = b.metadata_for(value)
    metadata["line_items[1].amount"] = {"logprobsConfidence": 0.25}
    frame = flatten.flatten_line_items([run_with(value, metadata=metadata)], schema=SCHEMA)
    assert list(frame.columns) == [
        *LINE_ITEM_COLUMNS,
        *ITEM_COLUMNS,
        *(c + "__confidence" for c in ITEM_COLUMNS),
    ]
    assert frame["field"].tolist() == ["line_items", "line_items"]
    assert frame["index"].tolist() == [0, 1]
    assert frame["run_id"].tolist() == ["r1", "r1"]
    assert frame["key"].tolist() == ["invoices/2025-01-15/inv-1.pdf"] * 2
    assert frame["partition"].tolist() == ["2025-01-15"] * 2
    assert frame["description"].tolist() == ["Widget", "Gadget"]
    assert frame["quantity"].tolist() == [2.0, 1.0]
    assert frame["amount__confidence"].tolist() == [0.9, 0.25]
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["quantity"] == "Float64" and dtypes["sku"] == "string"
    assert dtypes["index"] == "Int64" and dtypes["amount__confidence"] == "Float64"


def test_item_confidence_falls_back_to_the_item_then_the_field() -> None:
    value = b.invoice_value()
    metadata = {
        "line_items[0]": {"logprobsConfidence": 0.5},
        "line_items": {"ocrConfidence": 0.4},
    }
    frame = flatten.flatten_line_items([run_with(value, metadata=metadata)], schema=SCHEMA)
    assert frame["sku__confidence"].tolist() == [0.5, 0.4]


def test_runs_without_items_failed_runs_and_bad_items() -> None:
    empty = run_with(b.invoice_value(line_items=[]), "r2")
    bad = run_with(
        b.invoice_value(
            line_items=[
                {"description": "ok", "quantity": "three"},
                "not an object",
                None,
                {"description": "also ok", "quantity": "4"},
            ]
        ),
        "r3",
    )
    frame = flatten.flatten_line_items([empty, b.failed_run(), bad], schema=SCHEMA)
    assert frame["run_id"].tolist() == ["r3", "r3"]
    assert frame["index"].tolist() == [0, 3]
    assert pd.isna(frame.loc[0, "quantity"]) and frame.loc[1, "quantity"] == 4.0
    assert frame.attrs["coercion_errors_by_column"] == {"field": 1, "quantity": 1}
    assert coercion_errors(frame) == 2


def test_several_array_fields_share_one_table() -> None:
    schema = {
        "type": "object",
        "properties": {
            "line_items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "amount": {"type": "number"}},
                },
            },
            "shipment": {
                "type": "object",
                "properties": {
                    "packages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "weight": {"type": "number"},
                                "amount": {"type": "string"},
                                "price": {"$ref": "#/$defs/money"},
                            },
                        },
                    }
                },
            },
        },
        "$defs": {
            "money": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "iso_4217_currency_code": {"type": "string"},
                },
            }
        },
    }
    value = {
        "line_items": [{"sku": "A", "amount": 1}],
        "shipment": {
            "packages": [
                {
                    "weight": 2.5,
                    "amount": "x",
                    "price": {"amount": 3, "iso_4217_currency_code": "NOK"},
                }
            ]
        },
    }
    frame = flatten.flatten_line_items([run_with(value, metadata={}, schema=schema)], schema=schema)
    assert frame["field"].tolist() == ["line_items", "shipment.packages"]
    assert frame["sku"].tolist()[0] == "A" and pd.isna(frame["sku"][1])
    assert frame["weight"].tolist()[1] == 2.5
    # `amount` is a number in one field and text in the other: the union column is text.
    assert str(frame["amount"].dtype) == "string"
    assert frame["amount"].tolist() == ["1", "x"]
    assert frame.loc[1, "price.amount"] == 3.0 and frame.loc[1, "price.currency"] == "NOK"


def test_sources_and_raw_text_ids() -> None:
    sources = {"r1": SourceRef(None, None, None, "2025-03-01", None, source_id="row-9")}
    frame = flatten.flatten_line_items(
        [run_with(b.invoice_value())], sources=sources, schema=SCHEMA
    )
    assert frame["source_id"].tolist() == ["row-9", "row-9"]
    assert frame["partition"].tolist() == ["2025-03-01"] * 2
    assert frame["key"].isna().all()


def test_no_schema_mode_finds_arrays_of_objects() -> None:
    frame = flatten.flatten_line_items([run_with(b.invoice_value()), b.failed_run()])
    assert frame["field"].tolist() == ["line_items", "line_items"]
    assert str(frame["quantity"].dtype) == "Int64"  # only whole numbers were seen
    assert str(frame["amount"].dtype) == "Float64"
    assert frame["amount__confidence"].tolist() == [0.9, 0.9]


def test_empty_input_gives_typed_empty_frames() -> None:
    frame = flatten.flatten_line_items([], schema=SCHEMA)
    one = flatten.flatten_line_items([run_with(b.invoice_value())], schema=SCHEMA)
    assert len(frame) == 0
    assert list(frame.columns) == list(one.columns)
    assert (frame.dtypes == one.dtypes).all()
    bare = flatten.flatten_line_items([])
    assert list(bare.columns) == list(LINE_ITEM_COLUMNS)
    assert str(bare["index"].dtype) == "Int64"
