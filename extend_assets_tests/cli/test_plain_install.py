"""From a built wheel in a fresh virtualenv (no source checkout), ``extend-assets demo`` works.

The wheel is installed with the ``local`` extra through the same pip configuration as
the development environment (its cache makes this about a minute), from a working
directory that holds nothing of the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pip(python: Path, *args: str, timeout: float) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_runs_from_a_wheel_installed_in_a_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip(
        Path(sys.executable), "wheel", "-q", "--no-deps", str(REPO), "-w", str(wheels), timeout=300
    )
    (wheel,) = wheels.glob("extend_assets-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    _pip(python, "install", "-q", f"{wheel}[local]", timeout=480)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXTEND_", "DAGSTER_"))}
    command = [str(python.with_name("extend-assets")), "demo", "--documents", "8", "--days", "2"]
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Done: 8 document(s) over 2 partition(s)" in done.stdout
    assert (workdir / ".extend_demo" / "dagster.yaml").exists()
    assert (workdir / ".extend_demo" / "extend.duckdb").exists()
    # the installed package is the wheel's, not the checkout's
    where = subprocess.run(
        [str(python), "-c", "import extend_assets; print(extend_assets.__file__)"],
        cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "site-packages" in where.stdout
