"""The README's first command runs ``extend-assets demo``: it exits 0 and prints the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_command_exits_zero_and_prints_a_summary(tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("extend-assets")),
        "demo", "--documents", "24", "--days", "2", "--home", str(tmp_path / "demo"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Done: 24 document(s) over 2 partition(s)" in out
    assert "documents by status:" in out and "PROCESSED" in out
    assert "tables are in DuckDB" in out and (tmp_path / "demo" / "extend.duckdb").exists()
    assert "extend-assets dev" in out
