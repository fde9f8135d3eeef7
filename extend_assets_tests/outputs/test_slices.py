"""A table built slice by slice (``build_table``) is the one frame the steps built before:
the same columns, dtypes and rows, whatever the batches hold; and it never holds more
than a batch and a slice of rows at once."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extend_assets import flatten
from extend_assets.assets.extend_extracted_documents import DOCUMENT_FIXED_COLUMNS
from extend_assets.assets.storage import for_storage
from extend_assets.assets.tables import DOCUMENT_TALLY_COLUMNS, BuiltTable, build_table
from extend_assets.outputs.columns import analyst_frame
from extend_assets.outputs.frames import storable
from extend_assets.outputs.matching import rows_without_runs, with_partition_date
from extend_assets.outputs.schema_union import WorkflowSchema
from extend_assets.outputs.stream import flatten_batches
from extend_assets_tests.flatten import builders as b
from extend_assets_tests.outputs.test_flatten_in_chunks import _runs, _runs_table

LINE_ITEM_FIXED = (*flatten.LINE_ITEM_COLUMNS, "partition_date")


def single_frame(
    batches: Sequence[pd.DataFrame],
    schema: dict[str, Any] | None,
    fixed: Sequence[str],
    *,
    line_items: bool = False,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The table as the steps built it before slices: concatenated, then typed."""
    frame = pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]
    if extra is not None and len(extra):
        frame = pd.concat([frame, extra], ignore_index=True)
    frame = storable(with_partition_date(frame))
    table, _ = analyst_frame(frame, schema, fixed=fixed, line_items=line_items)
    return for_storage(table)


def built(batches: Iterable[pd.DataFrame], schema: Any, fixed: Any, **kwargs: Any) -> BuiltTable:
    return build_table(batches, schema, fixed=fixed, tally_columns=DOCUMENT_TALLY_COLUMNS, **kwargs)


def assert_same_table(table: BuiltTable, expected: pd.DataFrame) -> None:
    got = table.slices.to_frame()
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_series_equal(table.slices.dtypes, expected.dtypes)
    for piece in table.slices:  # every slice typed as the whole table
        pd.testing.assert_series_equal(piece.dtypes, expected.dtypes)
    assert table.slices.rows == len(expected)


@pytest.mark.parametrize("line_items", [False, True])
@pytest.mark.parametrize("batch_runs", [1, 4, 1000])
@pytest.mark.parametrize("slice_rows", [1, 5, 10_000])
def test_slices_of_flattened_runs_are_the_single_frame(
    tmp_path: Path, line_items: bool, batch_runs: int, slice_rows: int
) -> None:
    runs = _runs()
    table = _runs_table(runs, tmp_path)
    table.loc[2, "raw_uri"] = None  # a ledger row Extend returned no run for
    schema = WorkflowSchema()
    schema.add(b.invoice_schema(), "Extract")
    fn = flatten.flatten_line_items if line_items else flatten.flatten_documents
    fixed = LINE_ITEM_FIXED if line_items else DOCUMENT_FIXED_COLUMNS
    batches = list(flatten_batches(table, fn, schema, batch_runs=batch_runs))
    extra = None if line_items else rows_without_runs(table, None)
    json_schema = schema.as_json_schema()
    expected = single_frame(batches, json_schema, fixed, line_items=line_items, extra=extra)
    pieces = [*batches, extra] if extra is not None else batches
    result = built(pieces, json_schema, fixed, line_items=line_items, slice_rows=slice_rows)
    try:
        assert_same_table(result, expected)
    finally:
        result.close()


def _batch(**columns: Any) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(
        {"partition": ["2025-01-15"] * n, "key": [f"k{i}" for i in range(n)], **columns}
    )
    return frame.astype({"partition": "string", "key": "string"})


def test_a_column_only_in_a_later_slice_is_typed_from_the_first_write() -> None:
    batches = [
        _batch(status=["PROCESSED", "FAILED"], amount=[1, 2]),
        _batch(status=["PROCESSED"], amount=[None]),  # all null: int column turns float
        _batch(
            status=["PROCESSED", "PROCESSED"],
            amount=[3, 4],
            note=["late", None],  # text only from the third batch on
            flag=[True, None],  # object of bools: stays object
            payload=[{"a": 1}, None],  # dicts: JSON text, the column whole
            mixed=["x", 2],  # not text only: stays object
        ),
        _batch(status=["FAILED"], note=[None], payload=["plain"], mixed=[None]),
    ]
    expected = single_frame(batches, None, DOCUMENT_FIXED_COLUMNS)
    assert {"note", "flag", "payload", "mixed"} <= set(expected.columns)
    for slice_rows in (1, 3, 100):
        result = built(batches, None, DOCUMENT_FIXED_COLUMNS, slice_rows=slice_rows)
        try:
            assert_same_table(result, expected)
            first = next(iter(result.slices))
            assert list(first.columns) == list(expected.columns)  # the late ones from the start
        finally:
            result.close()


def test_decimal_and_date_fields_are_typed_in_every_slice(tmp_path: Path) -> None:
    runs = _runs()
    table = _runs_table(runs, tmp_path)
    schema = WorkflowSchema()
    schema.add(b.invoice_schema(), "Extract")
    batches = list(flatten_batches(table, flatten.flatten_documents, schema, batch_runs=1))
    result = built(batches, schema.as_json_schema(), DOCUMENT_FIXED_COLUMNS, slice_rows=2)
    try:
        kinds = {str(t) for t in result.slices.dtypes}
        assert any(k.startswith("decimal128") for k in kinds)
        assert "date32[day][pyarrow]" in kinds
        for piece in result.slices:
            pd.testing.assert_series_equal(piece.dtypes, result.slices.dtypes)
    finally:
        result.close()


def test_an_empty_partition_has_no_slices_and_the_columns(tmp_path: Path) -> None:
    schema = WorkflowSchema()
    schema.add(b.invoice_schema(), "Extract")
    table = _runs_table([], tmp_path)
    batches = list(flatten_batches(table, flatten.flatten_documents, schema))
    assert len(batches) == 1 and not len(batches[0])
    expected = single_frame(batches, schema.as_json_schema(), DOCUMENT_FIXED_COLUMNS)
    result = built(batches, schema.as_json_schema(), DOCUMENT_FIXED_COLUMNS)
    try:
        assert list(result.slices) == []
        assert result.slices.rows == 0
        pd.testing.assert_frame_equal(result.slices.to_frame(), expected)
        pd.testing.assert_frame_equal(result.slices.empty(), expected)
        assert len(result.tally.narrow()) == 0
    finally:
        result.close()


def test_the_tally_holds_what_the_checks_read_of_every_row() -> None:
    batches = [
        _batch(status=["PROCESSED", "FAILED"], **{"total__confidence": [0.9, 0.2]}),
        _batch(status=["PROCESSED"], **{"total__confidence": [None]}),
    ]
    result = built(batches, None, DOCUMENT_FIXED_COLUMNS, low_confidence_threshold=0.5)
    try:
        narrow = result.tally.narrow()
        assert list(narrow.columns) == ["partition", "status", "key"]
        assert narrow["status"].tolist() == ["PROCESSED", "FAILED", "PROCESSED"]
        numbers = result.tally.confidence("2025-01-15")
        assert (numbers.total, numbers.count, numbers.low) == (pytest.approx(1.1), 2, {"total": 1})
        assert result.tally.confidence("2025-01-16").mean is None
        assert len(result.tally.head(result.slices.empty())) == 3
    finally:
        result.close()


def test_rows_held_at_once_are_bounded_by_a_batch_and_a_slice() -> None:
    """A probe: weak references to every batch handed over and every slice read back;
    while the table is built and written, at most one batch and one slice are alive."""
    batch_rows, batches_count, slice_rows = 50, 40, 120
    handed: list[weakref.ref[pd.DataFrame]] = []
    most_alive_batches = 0

    def alive(refs: list[weakref.ref[pd.DataFrame]]) -> int:
        return sum(1 for ref in refs if ref() is not None)

    def batches() -> Iterator[pd.DataFrame]:
        nonlocal most_alive_batches
        for n in range(batches_count):
            most_alive_batches = max(most_alive_batches, alive(handed))
            frame = _batch(status=["PROCESSED"] * batch_rows, amount=[float(n)] * batch_rows)
            handed.append(weakref.ref(frame))
            yield frame

    result = built(batches(), None, DOCUMENT_FIXED_COLUMNS, slice_rows=slice_rows)
    try:
        assert most_alive_batches <= 1  # the one the builder is adding, no more
        assert alive(handed) == 0
        seen: list[weakref.ref[pd.DataFrame]] = []
        most_alive_slices = rows = 0
        for piece in result.slices:  # as an IO manager reads them
            seen.append(weakref.ref(piece))
            most_alive_slices = max(most_alive_slices, alive(seen))
            assert len(piece) < slice_rows + batch_rows
            rows += len(piece)
            del piece
        assert most_alive_slices == 1
        assert rows == batch_rows * batches_count
        # What stays for the metadata and checks: the narrow columns only.
        assert list(result.tally.narrow().columns) == ["partition", "status", "key"]
    finally:
        result.close()
