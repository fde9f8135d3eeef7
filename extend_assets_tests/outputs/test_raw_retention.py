"""Raw-run directories: the newest ``keep`` of a partition stay, nothing else is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from extend_assets.outputs.raw_files import RawRunWriter, prune_older_directories


def _raw_directory(parent: Path, name: str, mtime: float) -> Path:
    with RawRunWriter(parent / name, chunk_size=2) as writer:
        writer.add({"id": f"workflow_run_{name}"})
    os.utime(parent / name, (mtime, mtime))
    return parent / name


def test_the_newest_directories_stay_and_foreign_ones_are_left_alone(tmp_path: Path) -> None:
    older = [_raw_directory(tmp_path, f"run-{n}", 1_000 + n) for n in range(4)]
    current = _raw_directory(tmp_path, "run-current", 500)  # mtime does not matter for it
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "readme.txt").write_text("not ours")

    removed = prune_older_directories(current, keep=2)

    assert sorted(u.rsplit("/", 1)[-1] for u in removed) == ["run-0", "run-1", "run-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "run-3", "run-current"]
    assert (foreign / "readme.txt").read_text() == "not ours"
    assert older[3].exists() and current.exists()


def test_keep_one_leaves_only_the_current_run(tmp_path: Path) -> None:
    _raw_directory(tmp_path, "a", 1_000)
    current = _raw_directory(tmp_path, "b", 2_000)
    assert [u.rsplit("/", 1)[-1] for u in prune_older_directories(current, keep=1)] == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["b"]
    with pytest.raises(ValueError, match="keep"):
        prune_older_directories(current, keep=0)
