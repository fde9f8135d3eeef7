"""The tables' partial decoding (``table_view``) gives the frames the whole run gives:
the same rows, columns, dtypes, values and counted errors, for usual runs, both API
versions, legacy outputs, splits and runs of odd shapes."""

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
from extend_assets.outputs.table_view import table_view
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


@pytest.mark.parametrize("name", sorted(ODD_RUNS))
@pytest.mark.parametrize("with_schema", [True, False])
def test_odd_runs_flatten_as_when_decoded_whole(name: str, with_schema: bool) -> None:
    runs = [b.workflow_run(), copy.deepcopy(ODD_RUNS[name])]
    _assert_same_frames(runs, b.invoice_schema() if with_schema else None)


def test_emulator_runs_of_both_versions_flatten_as_when_decoded_whole(
    both: tuple[list[dict[str, Any]], list[dict[str, Any]]],  # noqa: F811
) -> None:
    for runs in both:
        schema = next(s for s in map(flatten.extraction_schema, runs) if s)
        _assert_same_frames(runs, schema)
        _assert_same_frames(runs, None)


def test_the_view_leaves_out_what_the_tables_never_read() -> None:
    run = b.workflow_run()
    view = table_view(orjson.dumps(run))
    extract = _extract(view)
    assert "initialOutput" not in extract  # output holds something: never read
    entry = extract["output"]["metadata"]["invoice_number"]
    assert entry == {"ocrConfidence": None, "logprobsConfidence": 0.9}  # no citations
    assert "url" not in view and "name" not in view


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
