"""Run the whole demo, then scan everything it produced for the API key and URL signatures."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb

from extend_assets.cli.demo import run_demo
from extend_assets.emulator import DEFAULT_API_KEY

# What a presigned URL carries that must never be stored: its signature and credential.
NEEDLES = (DEFAULT_API_KEY, "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token")


def hits(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle.lower() in text.lower()]


def test_the_demo_leaves_no_secret_in_logs_events_metadata_or_tables(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = io.StringIO()
    result = run_demo(documents=40, days=2, seed=3, home=home, latency=0.0, max_ticks=300, out=out)
    assert sum(result.status_counts.values()) == 40
    assert result.submitted > 0
    assert hits(out.getvalue()) == []

    scanned = 0
    for path in home.rglob("*"):
        if not path.is_file() or path.suffix in (".duckdb", ".wal"):
            continue
        # SQLite event log (events, metadata, cursors), compute logs, schedules.
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert hits(text) == [], f"{path.relative_to(home)} holds {hits(text)}"
        scanned += 1
    assert scanned >= 3  # the event log, run and schedule storage at least

    with duckdb.connect(str(result.duckdb_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        assert len(tables) >= 3
        for schema, name in tables:
            frame = con.execute(f'select * from "{schema}"."{name}"').fetchdf()
            text = frame.astype(str).to_csv()
            assert hits(text) == [], f"{schema}.{name} holds {hits(text)}"
