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
    assert "Extend API calls by endpoint: list" in out and "batch 1" in out


def test_the_demo_speaks_api_2026_with_one_flag(tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("extend-assets")),
        "demo", "--api-version", "2026-02-09", "--documents", "24", "--days", "2",
        "--home", str(tmp_path / "demo"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Done: 24 document(s) over 2 partition(s)" in done.stdout
    assert "Extend API version: 2026-02-09" in done.stdout
    assert "batch 1" in done.stdout


def test_the_webhooks_demo_settles_from_events_with_no_get_per_run(tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("extend-assets")),
        "demo", "--webhooks", "--documents", "24", "--days", "2", "--home", str(tmp_path / "demo"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Done: 24 document(s) over 2 partition(s)" in out
    assert "completion: webhooks; Extend API calls by endpoint: list" in out
    assert "get 0, batch 1" in out  # every settled run came from a landed event
    assert "webhook events landed by the receiver: 22" in out
    assert "wss_demo_" not in out + done.stderr + (tmp_path / "demo" / "receiver.log").read_text()
