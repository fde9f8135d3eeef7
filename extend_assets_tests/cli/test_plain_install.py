"""From a built wheel in a fresh virtualenv (no source checkout), ``extend-assets demo`` works.

The wheel is installed with the ``local`` extra through the same pip configuration as
the development environment (its cache makes this about a minute), from a working
directory that holds nothing of the repository. ``--no-compile`` skips writing the
``.pyc`` files of ~200 packages (Python compiles what it imports anyway).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    """This environment minus what would let the checkout leak in (``PYTHONPATH``)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def _pip(python: Path, *args: str, timeout: float) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", *args],
        capture_output=True, text=True, timeout=timeout, env=_clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow(seconds=180)
@pytest.mark.timeout(3000)  # hang guards only: ~200 packages on two busy cores take long
def test_demo_runs_from_a_wheel_installed_in_a_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip(
        Path(sys.executable), "wheel", "-q", "--no-deps", str(REPO), "-w", str(wheels), timeout=900
    )
    (wheel,) = wheels.glob("extend_assets-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    _pip(python, "install", "-q", "--no-compile", f"{wheel}[local]", timeout=1500)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in _clean_env().items() if not k.startswith(("EXTEND_", "DAGSTER_"))}
    command = [str(python.with_name("extend-assets")), "demo", "--documents", "8", "--days", "2"]
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Done: 8 document(s) over 2 partition(s)" in done.stdout
    assert (workdir / ".extend_demo" / "dagster.yaml").exists()
    assert (workdir / ".extend_demo" / "extend.duckdb").exists()
    # the installed package is the wheel's, not the checkout's
    where = subprocess.run(
        [str(python), "-c", "import extend_assets; print(extend_assets.__file__)"],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "site-packages" in where.stdout


@pytest.mark.slow(seconds=20)
@pytest.mark.timeout(600)
def test_the_build_warns_nothing_and_declares_an_spdx_license(tmp_path: Path) -> None:
    """``license = "Apache-2.0"`` (setuptools>=77): no deprecation on every install."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "extend_assets", source / "extend_assets",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", str(source),
         "-w", str(tmp_path / "wheels")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Deprecat" not in output and "project.license" not in output, output[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("extend_assets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: Apache-2.0" in archive.read(name).decode()
