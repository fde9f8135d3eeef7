"""The documents table: one typed row per run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from extend_assets import flatten
from extend_assets.flatten import DOCUMENT_COLUMNS, SourceRef, coercion_errors, schema_columns
from extend_assets_tests.flatten import builders as b

SCHEMA = b.invoice_schema()


def one_row(run: dict[str, Any], schema: Any = SCHEMA, **kwargs: Any) -> pd.Series:
    frame = flatten.flatten_documents([run], schema=schema, **kwargs)
    assert len(frame) == 1
    return frame.iloc[0]


def run_with(value: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return b.workflow_run(outputs=[b.classify_run(), b.extract_run(value, **kwargs)])


def test_processed_run_with_classify_and_extract() -> None:
    frame = flatten.flatten_documents([b.workflow_run()], schema=SCHEMA)
    row = frame.iloc[0]
    assert row["run_id"] == "workflow_run_000000000000000000001"
    assert (row["bucket"], row["key"], row["etag"], row["partition"]) == (
        "docs",
        "invoices/2025-01-15/inv-1.pdf",
        '"abc"',
        "2025-01-15",
    )
    assert row["batch_id"] == "batch_kCz2ht2a"
    assert row["workflow_id"] == "workflow_sampleInvoices0000000"
    assert row["workflow_version"] == "1"
    assert row["status"] == "PROCESSED"
    assert row["classification_type"] == "invoice"
    assert row["classification_confidence"] == pytest.approx(0.97)
    assert row["usage_credits"] == 3.5
    assert not row["reviewed"] and not row["edited"]
    assert row["invoice_number"] == "INV-0042"
    assert row["invoice_date"] == pd.Timestamp("2025-01-15")
    assert row["vendor.name"] == "Acme Supplies"
    assert row["customer.address"] == "9 Side Rd"
    assert row["total.amount"] == 108.25
    assert row["total.currency"] == "USD"
    assert row["tax_rate"] == pytest.approx(0.0825)
    assert row["payment_terms"] == "NET_30"
    assert row["is_paid"] is False or row["is_paid"] == False  # noqa: E712 (pandas boolean)
    assert row["invoice_number__confidence"] == pytest.approx(0.9)
    assert row["total__confidence"] == pytest.approx(0.9)
    assert row["vendor.name__confidence"] == pytest.approx(0.9)
    assert "line_items" not in frame.columns
    assert coercion_errors(frame) == 0


def test_column_order_and_dtypes_follow_the_schema() -> None:
    frame = flatten.flatten_documents([b.workflow_run()], schema=SCHEMA)
    fields = [c.name for c in schema_columns(SCHEMA)]
    confidence_keys = list(dict.fromkeys(c.confidence_key for c in schema_columns(SCHEMA)))
    assert list(frame.columns) == [
        *DOCUMENT_COLUMNS,
        *fields,
        *(k + "__confidence" for k in confidence_keys),
    ]
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["run_id"] == "string"
    assert dtypes["reviewed"] == "boolean"
    assert dtypes["created_at"] == "datetime64[ns, UTC]"
    assert dtypes["usage_credits"] == "Float64"
    assert dtypes["invoice_date"] == "datetime64[ns]"
    assert dtypes["total.amount"] == "Float64"
    assert dtypes["total.currency"] == "string"
    assert dtypes["is_paid"] == "boolean"
    assert dtypes["payment_terms"] == "string"
    assert dtypes["total__confidence"] == "Float64"


def test_timestamps_are_utc_in_both_wire_forms() -> None:
    run = b.workflow_run(
        initial_run_at="2025-05-12T21:34:54.455000+00:00",
        startTime="2025-05-12T21:34:55.000Z",
        endTime="2025-05-12T23:34:56+02:00",
    )
    row = one_row(run)
    assert row["created_at"] == pd.Timestamp("2025-05-12T21:34:54.455", tz="UTC")
    assert row["start_time"] == pd.Timestamp("2025-05-12T21:34:55", tz="UTC")
    assert row["end_time"] == pd.Timestamp("2025-05-12T21:34:56", tz="UTC")
    assert str(row["created_at"].tz) == "UTC"


def test_reviewed_output_wins_over_the_initial_one() -> None:
    initial = b.invoice_value(
        invoice_number="INV-0O42", total={"amount": 1.0, "iso_4217_currency_code": "USD"}
    )
    reviewed = b.invoice_value()
    extract = b.extract_run(initial, reviewed_value=reviewed)
    extract["output"] = extract["initialOutput"]  # even if `output` lagged behind
    run = b.workflow_run(
        outputs=[b.classify_run(), extract],
        reviewed=True,
        reviewedBy="reviewer@example.com",
        reviewedAt="2025-01-16T08:00:00Z",
    )
    row = one_row(run)
    assert row["invoice_number"] == "INV-0042"
    assert row["total.amount"] == 108.25
    assert row["invoice_number__confidence"] == 1.0
    assert row["reviewed"] and row["edited"]
    assert row["reviewed_by"] == "reviewer@example.com"
    assert row["reviewed_at"] == pd.Timestamp("2025-01-16T08:00:00", tz="UTC")


def test_failed_run_still_gets_a_row_with_null_fields() -> None:
    frame = flatten.flatten_documents([b.workflow_run(), b.failed_run()], schema=SCHEMA)
    failed = frame.iloc[1]
    assert failed["status"] == "FAILED"
    assert failed["failure_reason"] == "FAILED_TO_PROCESS_FILE"
    assert failed["failure_message"] == "The file could not be downloaded."
    assert pd.isna(failed["start_time"]) and pd.isna(failed["usage_credits"])
    assert pd.isna(failed["classification_type"]) and pd.isna(failed["classification_confidence"])
    fields = [c.name for c in schema_columns(SCHEMA)]
    assert failed[fields].isna().all()
    assert failed[[c for c in frame.columns if c.endswith("__confidence")]].isna().all()
    assert not failed["edited"]
    assert coercion_errors(frame) == 0


def test_needs_review_run_has_its_initial_values() -> None:
    row = one_row(b.workflow_run(status="NEEDS_REVIEW"))
    assert row["status"] == "NEEDS_REVIEW"
    assert row["invoice_number"] == "INV-0042"


def test_a_missing_field_is_null_and_the_column_set_is_stable() -> None:
    partial = b.invoice_value()
    del partial["due_date"], partial["vendor"]
    runs = [b.workflow_run("r1"), run_with(partial, metadata={})]
    runs[1]["id"] = "r2"
    frame = flatten.flatten_documents(runs, schema=SCHEMA)
    alone = flatten.flatten_documents(runs[1:], schema=SCHEMA)
    assert list(frame.columns) == list(alone.columns)
    assert (frame.dtypes == alone.dtypes).all()
    second = frame.iloc[1]
    assert pd.isna(second["due_date"]) and pd.isna(second["vendor.name"])
    assert pd.isna(second["invoice_number__confidence"])
    assert second["invoice_number"] == "INV-0042"


def test_nested_objects_become_dotted_columns() -> None:
    schema = {
        "type": "object",
        "properties": {
            "shipment": {
                "type": "object",
                "properties": {
                    "carrier": {"type": "string"},
                    "address": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                    },
                },
            }
        },
    }
    value = {"shipment": {"carrier": "UPS", "address": {"city": "Oslo", "zip": "0150"}}}
    metadata = {
        "shipment.carrier": {"logprobsConfidence": 0.5},
        "shipment.address": {"ocrConfidence": 0.7},
    }
    row = one_row(run_with(value, metadata=metadata, schema=schema), schema=schema)
    assert row["shipment.carrier"] == "UPS"
    assert row["shipment.address.city"] == "Oslo"
    assert row["shipment.address.zip"] == "0150"
    assert row["shipment.carrier__confidence"] == 0.5
    # No entry of its own: the nearest parent's entry.
    assert row["shipment.address.city__confidence"] == 0.7


def test_currency_columns_and_a_bare_number_is_an_error() -> None:
    value = b.invoice_value(
        tax=12.5, subtotal={"amount": "1,234.50", "iso_4217_currency_code": "EUR"}
    )
    frame = flatten.flatten_documents([run_with(value)], schema=SCHEMA)
    row = frame.iloc[0]
    assert row["subtotal.amount"] == 1234.5 and row["subtotal.currency"] == "EUR"
    assert pd.isna(row["tax.amount"]) and pd.isna(row["tax.currency"])
    assert frame.attrs["coercion_errors_by_column"] == {"tax.amount": 1, "tax.currency": 1}


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025-01-15", "2025-01-15"),
        ("2025-01-15T23:30:00-05:00", "2025-01-15"),  # the date as written
        ("2025-01-15T10:00:00Z", "2025-01-15"),
        ("01/15/2025", "2025-01-15"),
        ("15 Jan 2025", "2025-01-15"),
        ("January 15, 2025", "2025-01-15"),
        ("2025/1/5", "2025-01-05"),
    ],
)
def test_dates_in_several_forms(written: str, expected: str) -> None:
    frame = flatten.flatten_documents(
        [run_with(b.invoice_value(invoice_date=written))], schema=SCHEMA
    )
    assert frame.iloc[0]["invoice_date"] == pd.Timestamp(expected)
    assert coercion_errors(frame) == 0


def test_unreadable_dates_are_null_and_counted_but_blank_is_just_null() -> None:
    runs = [
        run_with(b.invoice_value(invoice_date="soon", due_date="")),
        run_with(b.invoice_value(invoice_date="12", due_date=20250115)),
        run_with(b.invoice_value(invoice_date="2025-13-45", due_date=None)),
    ]
    frame = flatten.flatten_documents(runs, schema=SCHEMA)
    assert frame["invoice_date"].isna().all() and frame["due_date"].isna().all()
    assert frame.attrs["coercion_errors_by_column"] == {"invoice_date": 3, "due_date": 1}


def test_date_time_fields_are_utc() -> None:
    schema = {
        "type": "object",
        "properties": {"shipped_at": {"type": "string", "format": "date-time"}},
    }
    values = [
        "2025-01-15T10:00:00Z",
        "2025-01-15T12:00:00+02:00",
        "2025-01-15 10:00",
        "Jan 15 2025 10:00 AM",
        "nope",
    ]
    runs = [run_with({"shipped_at": v}, schema=schema, metadata={}) for v in values]
    frame = flatten.flatten_documents(runs, schema=schema)
    assert str(frame["shipped_at"].dtype) == "datetime64[ns, UTC]"
    expected = pd.Timestamp("2025-01-15T10:00:00", tz="UTC")
    assert list(frame["shipped_at"][:4]) == [expected] * 4
    assert pd.isna(frame["shipped_at"][4])
    assert coercion_errors(frame) == 1


@pytest.mark.parametrize(
    ("written", "expected"),
    [(True, True), (False, False), ("yes", True), ("No", False), (1, True), ("0", False)],
)
def test_booleans(written: Any, expected: bool) -> None:
    row = one_row(run_with(b.invoice_value(is_paid=written)))
    assert bool(row["is_paid"]) is expected


def test_enums_are_strings_and_unknown_options_are_kept() -> None:
    spec = next(c for c in schema_columns(SCHEMA) if c.name == "payment_terms")
    assert spec.kind == "string"
    assert spec.enum == ("NET_15", "NET_30", "NET_60", "DUE_ON_RECEIPT")
    frame = flatten.flatten_documents(
        [run_with(b.invoice_value(payment_terms="NET_90"))], schema=SCHEMA
    )
    assert frame.iloc[0]["payment_terms"] == "NET_90"


def test_bad_values_become_null_and_are_counted_never_raise() -> None:
    value = b.invoice_value(
        tax_rate="abc",
        is_paid="maybe",
        invoice_number={"oops": 1},
        vendor="Acme",  # a string where an object belongs
        notes=42,  # a number in a string field is written out, not an error
    )
    frame = flatten.flatten_documents([run_with(value)], schema=SCHEMA)
    row = frame.iloc[0]
    assert pd.isna(row["tax_rate"]) and pd.isna(row["is_paid"]) and pd.isna(row["invoice_number"])
    assert pd.isna(row["vendor.name"])
    assert row["notes"] == "42"
    assert frame.attrs["coercion_errors_by_column"] == {
        "invoice_number": 1,
        "vendor.name": 1,
        "vendor.address": 1,
        "vendor.tax_id": 1,
        "vendor.email": 1,
        "tax_rate": 1,
        "is_paid": 1,
    }
    assert coercion_errors(frame) == 7


@pytest.mark.parametrize(
    ("written", "expected"), [("1,234.50", 1234.5), ("$12", 12.0), (" 7 ", 7.0), (3, 3.0)]
)
def test_numbers_written_as_text(written: Any, expected: float) -> None:
    row = one_row(run_with(b.invoice_value(tax_rate=written)))
    assert row["tax_rate"] == expected


def test_integers() -> None:
    schema = {"type": "object", "properties": {"pages": {"type": "integer"}}}
    runs = [
        run_with({"pages": v}, schema=schema, metadata={}) for v in (3, "4", 5.0, 2.5, "x", None)
    ]
    frame = flatten.flatten_documents(runs, schema=schema)
    assert str(frame["pages"].dtype) == "Int64"
    assert frame["pages"].tolist()[:3] == [3, 4, 5]
    assert frame["pages"][3:].isna().all()
    assert coercion_errors(frame) == 2


def test_confidence_falls_back_to_ocr_then_review_agent_score() -> None:
    metadata = {
        "invoice_number": {"logprobsConfidence": None, "ocrConfidence": 0.6},
        "invoice_date": {"logprobsConfidence": None, "reviewAgentScore": 4},
        "due_date": {"logprobsConfidence": 0.8, "ocrConfidence": 0.1},
        "notes": {"logprobsConfidence": None},
        "total.amount": {"logprobsConfidence": 0.3},  # a currency keyed by its amount
    }
    row = one_row(run_with(b.invoice_value(), metadata=metadata))
    assert row["invoice_number__confidence"] == 0.6
    assert row["invoice_date__confidence"] == pytest.approx(0.8)
    assert row["due_date__confidence"] == 0.8
    assert pd.isna(row["notes__confidence"])
    assert row["total__confidence"] == 0.3


def test_sources_override_run_metadata_and_raw_text_sources_have_an_id() -> None:
    s3_run = b.workflow_run("r1")
    text_run = b.workflow_run("r2", metadata={})
    sources = {
        "r1": SourceRef("bucket-2", "a/b.pdf", '"e2"', "2025-02-01", "batch_ledger"),
        "r2": SourceRef(None, None, None, "2025-02-01", None, source_id="row-17"),
    }
    frame = flatten.flatten_documents([s3_run, text_run], sources=sources, schema=SCHEMA)
    assert frame.loc[0, ["bucket", "key", "etag", "partition", "batch_id"]].tolist() == [
        "bucket-2",
        "a/b.pdf",
        '"e2"',
        "2025-02-01",
        "batch_ledger",
    ]
    assert frame.loc[1, "source_id"] == "row-17"
    assert pd.isna(frame.loc[1, "key"])
    assert frame.loc[1, "batch_id"] == "batch_kCz2ht2a"  # the run's own, when the ledger has none


def test_field_named_like_a_fixed_column_is_prefixed() -> None:
    schema = {"type": "object", "properties": {"status": {"type": "string"}}}
    value = {"status": "paid"}
    row = one_row(
        run_with(value, schema=schema, metadata={"status": {"logprobsConfidence": 0.4}}),
        schema=schema,
    )
    assert row["status"] == "PROCESSED"
    assert row["extracted.status"] == "paid"
    assert row["extracted.status__confidence"] == 0.4


def test_several_extract_outputs_merge_first_non_null_wins() -> None:
    first = b.extract_run(b.invoice_value(notes=None))
    second = b.extract_run({"notes": "from the second", "invoice_number": "IGNORED"})
    row = one_row(b.workflow_run(outputs=[first, second]))
    assert row["notes"] == "from the second"
    assert row["invoice_number"] == "INV-0042"


def test_no_schema_mode_derives_columns_from_the_values_seen() -> None:
    runs = [
        run_with(
            {"a": 1, "when": "2025-01-15", "price": {"amount": 2, "iso_4217_currency_code": "USD"}}
        ),
        run_with({"a": 2, "b": 1.5, "flag": True, "nested": {"x": "y"}, "tags": ["p", "q"]}),
        run_with({"b": 2, "flag": None, "only_null": None}),
        b.failed_run(),
    ]
    frame = flatten.flatten_documents(runs)
    dtypes = frame.dtypes.astype(str).to_dict()
    assert dtypes["a"] == "Int64"
    assert dtypes["b"] == "Float64"
    assert dtypes["when"] == "datetime64[ns]"
    assert dtypes["price.amount"] == "Float64" and dtypes["price.currency"] == "string"
    assert dtypes["flag"] == "boolean"
    assert dtypes["nested.x"] == "string"
    assert dtypes["tags"] == "string" and frame.loc[1, "tags"] == '["p", "q"]'
    assert dtypes["only_null"] == "string"
    assert frame["a"].tolist()[:2] == [1, 2]
    assert len(frame) == 4


def test_without_schema_the_sample_invoice_gets_the_same_columns() -> None:
    runs = [b.workflow_run(), b.failed_run()]
    with_schema = flatten.flatten_documents(runs, schema=SCHEMA)
    without = flatten.flatten_documents(runs)
    assert list(with_schema.columns) == list(without.columns)
    assert (with_schema.dtypes == without.dtypes).all()


def test_empty_input_gives_typed_empty_frames() -> None:
    with_schema = flatten.flatten_documents([], schema=SCHEMA)
    assert len(with_schema) == 0
    one = flatten.flatten_documents([b.workflow_run()], schema=SCHEMA)
    assert list(with_schema.columns) == list(one.columns)
    assert (with_schema.dtypes == one.dtypes).all()
    bare = flatten.flatten_documents([])
    assert list(bare.columns) == list(DOCUMENT_COLUMNS)
    assert bare.attrs["coercion_errors"] == 0


def test_rejects_what_is_not_a_list_of_runs() -> None:
    with pytest.raises(TypeError, match="sequence of WorkflowRun"):
        flatten.flatten_documents(b.workflow_run())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"runs\[1\] is a str"):
        flatten.flatten_documents([b.workflow_run(), "workflow_run_x"])  # type: ignore[list-item]
