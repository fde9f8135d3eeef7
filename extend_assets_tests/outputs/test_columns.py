"""Analyst-friendly columns: plain names, collision-safe, DECIMAL money, DATE days."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd

from extend_assets.outputs.columns import analyst_frame, field_description, sql_name

SCHEMA = {
    "type": "object",
    "properties": {
        "vendor": {
            "type": "object",
            "description": "Who sent the invoice",
            "properties": {"name": {"type": "string", "description": "Legal name"}},
        },
        "vendor_name": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date", "title": "Invoice Date"},
        "total": {
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "iso_4217_currency_code": {"type": "string"},
            },
            "required": ["amount", "iso_4217_currency_code"],
            "description": "Amount due",
        },
        "order": {"type": "string"},
    },
}


def test_names_need_no_quoting() -> None:
    assert sql_name("vendor.name") == "vendor_name"
    assert sql_name("invoiceDate") == "invoice_date"
    assert sql_name("Total (EUR)") == "total_eur"
    assert sql_name("order") == "order_"
    assert sql_name("2nd.line") == "f_2nd_line"


def test_field_descriptions_follow_the_path() -> None:
    assert field_description(SCHEMA, ("vendor", "name")) == "Legal name"
    assert field_description(SCHEMA, ("invoiceDate",)) == "Invoice Date"  # the title
    assert field_description(SCHEMA, ("missing",)) is None


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["r1", "r2"],
            "status": ["PROCESSED", "FAILED"],
            "vendor.name": ["Acme", None],
            "vendor_name": ["dup", None],
            "invoiceDate": pd.to_datetime(["2025-01-03", None]),
            "total.amount": pd.array([1234.5, None], dtype="Float64"),
            "total.currency": ["EUR", None],
            "order": ["A", None],
            "vendor.name__confidence": [0.9, None],
            "partition": ["2025-01-13", "2025-01-13"],
            "partition_date": pd.to_datetime(["2025-01-13", "2025-01-13"]),
        }
    )


def test_analyst_frame_renames_types_and_describes() -> None:
    table, infos = analyst_frame(
        _frame(), SCHEMA, fixed=("run_id", "status", "partition", "partition_date")
    )
    assert list(table.columns) == [
        "run_id", "status", "vendor_name", "vendor_name_2", "invoice_date", "total_amount",
        "total_currency", "order_", "vendor_name_confidence", "partition", "partition_date",
    ]  # fmt: skip
    by_name = {info.name: info for info in infos}
    assert (by_name["vendor_name"].field, by_name["vendor_name"].description) == (
        "vendor.name",
        "Legal name",
    )
    assert by_name["vendor_name_2"].field == "vendor_name"
    assert by_name["total_amount"].description == "Amount due"
    assert by_name["vendor_name_confidence"].confidence
    assert by_name["run_id"].field is None
    assert table["total_amount"].iloc[0] == Decimal("1234.5000")

    con = duckdb.connect()
    con.register("t", table)
    types = dict(con.execute("select column_name, column_type from (describe t)").fetchall())
    assert types["total_amount"] == "DECIMAL(20,4)"
    assert types["invoice_date"] == "DATE" and types["partition_date"] == "DATE"
    # no quoting needed anywhere
    con.execute(
        "select vendor_name, vendor_name_2, total_amount, total_currency, order_, "
        "vendor_name_confidence from t where partition_date = date '2025-01-13'"
    )


def test_an_empty_frame_keeps_the_types() -> None:
    table, _ = analyst_frame(_frame().iloc[0:0], SCHEMA, fixed=("run_id", "status"))
    con = duckdb.connect()
    con.register("t", table)
    types = dict(con.execute("select column_name, column_type from (describe t)").fetchall())
    assert types["total_amount"] == "DECIMAL(20,4)" and types["invoice_date"] == "DATE"
