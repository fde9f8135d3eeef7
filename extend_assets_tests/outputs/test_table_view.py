"""The tables' partial decoding (``table_view``, and each table step's narrower view)
gives the frames the whole run gives: the same rows, columns, dtypes, values and
counted errors, for usual runs, both API versions, legacy outputs, splits, fields the
schema union renamed and runs of odd shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import orjson
import pandas as pd
import pytest

from extend_assets import flatten
from extend_assets.outputs.raw_reader import parse_line
from extend_assets.outputs.schema_union import WorkflowSchema, extractors_seen
from extend_assets.outputs.table_view import documents_view, line_items_view, table_view
from extend_assets_tests.assets.test_extractors import invoice_step, receipt_step
from extend_assets_tests.flatten import builders as b
from extend_assets_tests.flatten.test_both_versions import both  # noqa: F401 (fixture)
from extend_assets_tests.flatten.test_legacy_splits_schema import (
    legacy_output,
    legacy_run,
    splitter_run,
)


def _extract(run: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in run["outputs"] if o["type"] == "EXTRACT")


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    run = b.workflow_run("workflow_run_mutated00000000001")
    change(run)
    return run


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(run: dict[str, Any]) -> None:
        node: Any = run
        for key in path[:-1]:
            node = _extract(node) if key == "EXTRACT" else node[key]
        node[path[-1]] = value

    return change


ODD_RUNS: dict[str, dict[str, Any]] = {
    "reviewed": b.workflow_run(
        "workflow_run_reviewed0000000000001",
        outputs=[b.classify_run(), b.extract_run(reviewed_value=b.invoice_value(total=7))],
    ),
    "failed": b.failed_run(),
    "legacy": legacy_run(),
    "legacy with a value key": legacy_run(legacy_output(value={"id": "value", "value": 1})),
    "splitter": splitter_run(),
    "outputs null": _mutated(_set(("outputs",), None)),
    "outputs not a list": _mutated(_set(("outputs",), {"a": 1})),
    "a processor run not an object": _mutated(lambda r: r["outputs"].append("odd")),
    "output with another key": _mutated(_set(("EXTRACT", "output", "extra"), 1)),
    "output empty, initial output used": _mutated(_set(("EXTRACT", "output"), {})),
    "output null, reviewed empty": _mutated(
        lambda r: _extract(r).update(output=None, reviewedOutput={})
    ),
    "output a list": _mutated(_set(("EXTRACT", "output"), [1, 2])),
    "metadata null": _mutated(_set(("EXTRACT", "output", "metadata"), None)),
    "metadata entry not an object": _mutated(
        _set(("EXTRACT", "output", "metadata", "invoice_number"), 0.5)
    ),
    "metadata entry with only other keys": _mutated(
        _set(("EXTRACT", "output", "metadata", "invoice_number"), {"citations": []})
    ),
    "confidence as text": _mutated(
        _set(("EXTRACT", "output", "metadata", "invoice_number"), {"logprobsConfidence": "high"})
    ),
    "value not an object": _mutated(_set(("EXTRACT", "output", "value"), "text")),
    "config without a schema": _mutated(_set(("EXTRACT", "config"), {"type": "EXTRACT"})),
    "config null": _mutated(_set(("EXTRACT", "config"), None)),
    "config a list": _mutated(_set(("EXTRACT", "config"), ["EXTRACT"])),
    "config schema empty": _mutated(_set(("EXTRACT", "config", "schema"), {})),
    "config schema text": _mutated(_set(("EXTRACT", "config", "schema"), "x")),
    "config schema empty text": _mutated(_set(("EXTRACT", "config", "schema"), "")),
    "config schema a list": _mutated(_set(("EXTRACT", "config", "schema"), [1])),
    "type missing": _mutated(lambda r: _extract(r).pop("type")),
    "metadata of the run odd": _mutated(_set(("metadata",), ["x"])),
    "workflow odd": _mutated(_set(("workflow",), "w")),
}


def _line(run: Any) -> bytes:
    return json.dumps(run, default=str).encode()


def _frames(runs: list[Any], schema: Any) -> list[pd.DataFrame]:
    return [
        flatten.flatten_documents(runs, schema=schema),
        flatten.flatten_line_items(runs, schema=schema),
        flatten.flatten_splits(runs),
    ]


def _assert_same_frames(runs: list[Any], schema: Any) -> None:
    lines = [_line(run) for run in runs]
    whole = _frames([parse_line(line) for line in lines], schema)
    viewed = _frames([table_view(line) for line in lines], schema)
    for expected, got in zip(whole, viewed, strict=True):
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs == expected.attrs


def _union(runs: list[Any]) -> WorkflowSchema:
    """The workflow's schema as the table steps build it: the union of the runs' extractors."""
    schema = WorkflowSchema()
    for name, extractor_schema in extractors_seen(runs):
        schema.add(extractor_schema, name)
    return schema


def _assert_same_step_frames(runs: list[Any], schema: WorkflowSchema) -> None:
    """Each table step's view gives its table what the whole run gives it (the runs
    rewritten for the union's renames, as the steps do)."""
    lines = [_line(run) for run in runs]
    json_schema = schema.as_json_schema()
    for flatten_fn, view in [
        (flatten.flatten_documents, documents_view(schema)),
        (flatten.flatten_line_items, line_items_view),
    ]:
        expected = flatten_fn([schema.rewrite(parse_line(x)) for x in lines], schema=json_schema)
        got = flatten_fn([schema.rewrite(view(x)) for x in lines], schema=json_schema)
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs == expected.attrs


@pytest.mark.parametrize("name", sorted(ODD_RUNS))
@pytest.mark.parametrize("with_schema", [True, False])
def test_odd_runs_flatten_as_when_decoded_whole(name: str, with_schema: bool) -> None:
    runs = [b.workflow_run(), copy.deepcopy(ODD_RUNS[name])]
    _assert_same_frames(runs, b.invoice_schema() if with_schema else None)
    _assert_same_step_frames(runs, _union(runs))


def _totals_step() -> dict[str, Any]:
    """An extractor whose ``total`` is an object: renamed beside the invoice's currency."""
    schema = {"type": "object", "properties": {"total": {"type": "object", "properties": {
        "net": {"type": "number"}, "gross": {"type": "number"}}}}}  # fmt: skip
    metadata = {"total.net": {"logprobsConfidence": 0.8}, "total": {"logprobsConfidence": 0.7}}
    step = b.extract_run({"total": {"net": 5, "gross": 6}}, metadata=metadata, schema=schema)
    step["processorName"] = "Totals"
    return step


def test_fields_the_union_renamed_flatten_as_when_decoded_whole() -> None:
    """Two extractors type ``total`` differently from the invoice's: theirs are renamed,
    in their values and metadata paths (``total.net`` too, a path no other extractor
    has); the documents view decodes them under their own names."""
    receipt = b.workflow_run("workflow_run_rec", outputs=[receipt_step()])
    totals = b.workflow_run("workflow_run_tot", outputs=[_totals_step()])
    routed = b.workflow_run("workflow_run_both", outputs=[invoice_step(), receipt_step()])
    runs = [b.workflow_run(), receipt, totals, routed]
    schema = _union(runs)
    assert schema.renames == {
        "Receipt fields": {"total": "total__receipt_fields"},
        "Totals": {"total": "total__totals"},
    }
    _assert_same_step_frames(runs, schema)
    frame = flatten.flatten_documents(
        [schema.rewrite(documents_view(schema)(_line(r))) for r in runs],
        schema=schema.as_json_schema(),
    ).set_index("run_id")
    assert frame.loc["workflow_run_rec", "total__receipt_fields__confidence"] == 0.9
    assert frame.loc["workflow_run_both", "total__receipt_fields"] == 7.5
    assert frame.loc["workflow_run_tot", "total__totals.net"] == 5
    assert frame.loc["workflow_run_tot", "total__totals.net__confidence"] == 0.8


def test_the_view_leaves_out_what_the_tables_never_read() -> None:
    run = b.workflow_run()
    view = table_view(orjson.dumps(run))
    extract = _extract(view)
    assert "initialOutput" not in extract  # output holds something: never read
    entry = extract["output"]["metadata"]["invoice_number"]
    assert entry == {"ocrConfidence": None, "logprobsConfidence": 0.9}  # no citations
    assert "url" not in view and "name" not in view


def test_the_documents_view_leaves_out_the_line_items_and_the_files() -> None:
    run = b.workflow_run()
    view = documents_view(_union([run]))(orjson.dumps(run))
    output = _extract(view)["output"]
    assert "line_items" in _extract(run)["output"]["value"]
    assert "line_items" not in output["value"] and "invoice_number" in output["value"]
    assert not [path for path in output["metadata"] if "[" in path]
    assert "invoice_number" in output["metadata"]
    assert "files" not in view and "files" not in _extract(view)
    assert "files" not in line_items_view(orjson.dumps(run))


def test_without_a_schema_the_documents_view_is_the_whole_view() -> None:
    assert documents_view(WorkflowSchema()) is table_view


def test_integers_beyond_64_bits_stay_exact() -> None:
    """orjson reads them as floats (``1e+30``); msgspec keeps the integer written."""
    run = _mutated(_set(("EXTRACT", "output", "value", "invoice_number"), 10**30))
    frame = flatten.flatten_documents([table_view(_line(run))], schema=b.invoice_schema())
    assert frame["invoice_number"].tolist() == [str(10**30)]


def test_bad_json_fails_as_when_decoded_whole() -> None:
    with pytest.raises(ValueError) as whole:
        parse_line(b'{"id": ')
    with pytest.raises(ValueError) as viewed:
        table_view(b'{"id": ')
    assert type(viewed.value) is type(whole.value)
    nan = b'{"id": "r1", "outputs": [], "usage": {"credits": NaN}}'
    assert table_view(nan)["usage"]["credits"] != table_view(nan)["usage"]["credits"]
