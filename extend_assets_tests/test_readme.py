"""The README's Python snippets for a code location run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dagster import Definitions

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(section)
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_code_location_snippets_build_definitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXTEND_API_KEY", "sk_test")
    namespace: dict[str, object] = {}
    blocks = _python_blocks("## Using it in your code location")
    assert len(blocks) == 2  # one workflow, then two merged
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
        defs = namespace["defs"]
        assert isinstance(defs, Definitions)
        defs.get_repository_def()  # resolves: no clashing resource keys
    sensors = {s.name for s in namespace["defs"].get_repository_def().sensor_defs}  # type: ignore[attr-defined]
    assert sensors == {"invoices_extend_run_status_sensor", "receipts_extend_run_status_sensor"}
