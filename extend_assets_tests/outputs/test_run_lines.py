"""A landed run read as its JSON text (``decode_landed``) is written and matched as the
run read whole: the same head, the same JSON line, the same extractors; runs of unusual
shapes are left to the whole read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extend_assets.client import SUBMISSION_METADATA_KEY, WorkflowRun
from extend_assets.outputs.run_lines import RunLine, decode_landed, encode_run
from extend_assets.outputs.stream import line_of_event
from extend_assets_tests.flatten import builders as b
from extend_assets_tests.outputs.test_table_view import ODD_RUNS

SIGNED = "https://s3.example/doc.pdf?X-Amz-Signature=abc"


def usual_run(n: int = 0) -> dict[str, Any]:
    run = b.workflow_run(f"workflow_run_{n:030d}")
    run["batchId"] = "batch_1"
    run["metadata"] = {"bucket": "b", "key": f"k{n}", "etag": "e", SUBMISSION_METADATA_KEY: "s"}
    run["files"] = [{"id": "f1", "presignedUrl": None}]  # as landing scrubs it
    return run


def _same(fast: RunLine, whole: RunLine) -> None:
    assert b"\n" not in fast.line
    assert json.loads(fast.line) == json.loads(whole.line)
    for name in ("id", "status", "batch_id", "metadata"):
        assert getattr(fast.head, name) == getattr(whole.head, name), name
    assert fast.extractors() == whole.extractors()


def test_a_usual_landed_run_is_read_without_parsing_it_whole() -> None:
    run = usual_run()
    payload = json.dumps(run).encode()
    fast = decode_landed(payload)
    assert fast is not None and fast.line == payload and fast.extractors_key is not None
    _same(fast, encode_run(WorkflowRun.from_json(run, "2025-04-21")))
    assert fast.extractors()  # the invoice extractor and its schema


@pytest.mark.parametrize("name", sorted(ODD_RUNS))
def test_odd_runs_give_what_the_whole_read_gives(name: str) -> None:
    run = ODD_RUNS[name]
    payload = json.dumps(run).encode()
    fast = decode_landed(payload)
    whole = encode_run(WorkflowRun.from_json(run, "2025-04-21"))
    _same(fast or whole, whole)


def test_equal_extractors_share_a_key_and_another_schema_does_not() -> None:
    one, two = usual_run(1), usual_run(2)
    other = usual_run(3)
    extract = next(o for o in other["outputs"] if o["type"] == "EXTRACT")
    extract["config"]["schema"]["properties"]["extra"] = {"type": "string"}
    keys = [decode_landed(json.dumps(r).encode()) for r in (one, two, other)]
    assert all(k is not None for k in keys)
    assert keys[0].extractors_key == keys[1].extractors_key != keys[2].extractors_key  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r["files"][0].update(presignedUrl=SIGNED), id="presigned url"),
        pytest.param(
            lambda r: r["outputs"][0].setdefault("files", []).append({"presignedUrl": SIGNED}),
            id="presigned url of an output",
        ),
        pytest.param(lambda r: r.update(outputs=None, stepRuns=[{"result": {}}]), id="step runs"),
        pytest.param(lambda r: r["outputs"][0].pop("type"), id="processor type missing"),
    ],
)
def test_unusual_payloads_are_read_whole(change: Any) -> None:
    run = usual_run()
    change(run)
    assert decode_landed(json.dumps(run).encode()) is None


def test_a_presigned_url_never_reaches_the_line_and_a_pretty_payload_is_one_line() -> None:
    run = usual_run()
    run["files"][0]["presignedUrl"] = SIGNED

    class Landed:
        run_id, run_status, api_version = run["id"], "PROCESSED", "2025-04-21"
        payload_json = json.dumps(run, indent=2).encode()

        @property
        def payload(self) -> dict[str, Any]:
            return dict(json.loads(self.payload_json))

    line = line_of_event(Landed())
    assert b"X-Amz-Signature" not in line.line and b"\n" not in line.line
    run["files"][0]["presignedUrl"] = None
    pretty = json.dumps(run, indent=2).encode()
    fast = decode_landed(pretty)
    assert fast is not None and b"\n" not in fast.line
    assert json.loads(fast.line) == run


def test_not_json_or_not_an_object_is_left_to_the_whole_read() -> None:
    assert decode_landed(b"[1, 2]") is None
    assert decode_landed(b'{"id": NaN}') is None
    assert decode_landed(b"{") is None
