"""Raw-run lines parse as the standard library parses them, also what orjson refuses."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd

from extend_assets.outputs.raw_reader import RawRunReader, parse_line


def test_lines_orjson_refuses_parse_as_the_standard_library_does() -> None:
    # Python's json writes NaN and integers beyond 64 bits; orjson rejects both.
    line = json.dumps({"id": "r1", "score": float("nan"), "big": 2**70}).encode()
    parsed = parse_line(line)
    assert parsed["big"] == 2**70
    assert math.isnan(parsed["score"])
    assert parse_line(b'{"id":"r2","v":[1,2.5,"x",null,true]}') == json.loads(
        '{"id":"r2","v":[1,2.5,"x",null,true]}'
    )


def test_reader_reads_every_line_of_a_file_larger_than_its_buffer(tmp_path: Path) -> None:
    path = tmp_path / "runs-00001.jsonl.gz"
    runs = [{"id": f"r{i}", "text": "x" * 5000} for i in range(600)]  # ~3 MB: several buffers
    with gzip.open(path, "wb") as out:
        for run in runs:
            out.write(json.dumps(run).encode() + b"\n")
        out.write(b"\n")  # a blank line is skipped
    frame = pd.DataFrame({"raw_uri": [str(path)], "run_id": ["r0"], "status": ["PROCESSED"]})
    assert list(RawRunReader(frame).iter_file(str(path))) == runs
