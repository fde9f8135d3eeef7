"""A DuckDB file locked by another process: the error names the holder and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import asset, materialize

from extend_assets.errors import TableLockedError
from extend_assets.io_manager import ExtendDuckDBIOManager

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)"


@asset(key_prefix=["analytics"])
def numbers() -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2]})


@pytest.fixture(autouse=True)
def connect_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """dagster-duckdb retries a failed connect for ~100 s; once is enough to see the error."""
    import dagster_duckdb.io_manager as duckdb_io

    monkeypatch.setattr(duckdb_io, "backoff", lambda fn, retry_on, kwargs, **_: fn(**kwargs))


def test_a_locked_file_names_the_holder_and_the_fix(tmp_path: Path) -> None:
    database = tmp_path / "tables.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(TableLockedError) as raised:
            materialize(
                [numbers], resources={"io_manager": ExtendDuckDBIOManager(database=str(database))}
            )
    finally:
        holder.kill()
        holder.wait()
    message = str(raised.value)
    assert f"PID {holder.pid}" in message and str(database) in message
    assert "read_only=True" in message and "EXTEND_DUCKDB_PATH" in message
    assert "time.sleep(120)" in message  # the holder's command line, when readable


def test_other_io_errors_pass_through(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.duckdb"
    resource: Any = ExtendDuckDBIOManager(database=str(missing_dir))
    with pytest.raises(Exception) as raised:
        materialize([numbers], resources={"io_manager": resource})
    assert not isinstance(raised.value, TableLockedError)
