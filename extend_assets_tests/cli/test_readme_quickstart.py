"""The README's dg quickstart runs as written, from an empty folder, offline.

The commands are read from the README (between the ``quickstart`` markers), so the
two cannot drift. They run in bash with ``set -e`` in a folder that holds only the
checkout (as ``extend-assets/``). So that nothing is downloaded again, the folder's
``.venv`` exists before ``python -m venv .venv`` runs (which keeps it) and sees this
environment's packages through a ``.pth`` file; pip installs the new project and the
checkout into it and never touches this environment (pip does not uninstall outside
its own). A fresh virtualenv with every download is what
``test_plain_install.py`` does for the wheel.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def quickstart_commands() -> str:
    text = README.read_text()
    found = re.search(
        r"<!-- quickstart:start -->\n```bash\n(.*?)```\n<!-- quickstart:end -->", text, re.S
    )
    assert found is not None, "README lost its quickstart markers"
    return found.group(1)


def test_the_quickstart_starts_from_nothing() -> None:
    commands = quickstart_commands()
    assert commands.startswith("python -m venv .venv")
    assert "create-dagster project" in commands and "dg check defs" in commands


def _prepared_venv(path: Path) -> Path:
    """A virtualenv with its own pip, dg and create-dagster, that also sees this
    environment's packages (read-only: its pip installs into itself and never
    uninstalls outside it), so the quickstart downloads nothing again."""
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps",
         "create-dagster==1.13.27", "dagster-dg-cli==1.13.27"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (site,) = (path / "lib").glob("python3*/site-packages")
    (site / "this_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for tool in ("pip", "dg", "create-dagster"):
        assert (path / "bin" / tool).exists(), tool  # else PATH would find another one
    return path


@pytest.mark.slow(seconds=100)
@pytest.mark.timeout(900)
def test_the_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "extend-assets").symlink_to(REPO, target_is_directory=True)
    _prepared_venv(tmp_path / ".venv")
    # `python` is the base interpreter; this environment's bin is NOT on PATH, so every
    # pip, dg and create-dagster the commands run is the new virtualenv's.
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    script = tmp_path / "quickstart.sh"
    script.write_text("set -euxo pipefail\n" + quickstart_commands())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EXTEND_", "DAGSTER_", "PYTHON", "VIRTUAL_ENV", "PIP_"))
    }
    env["PATH"] = os.pathsep.join([str(tools), "/usr/bin", "/bin"])
    env["DAGSTER_DG_UPDATE_CHECK_ENABLED"] = "0"  # offline: no PyPI version check
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "extend_assets.ExtendWorkflowComponent" in done.stdout
    assert "All definitions loaded successfully" in output
    defs_yaml = tmp_path / "invoices-dg" / "src" / "invoices_dg" / "defs" / "invoices" / "defs.yaml"
    declared = yaml.safe_load(defs_yaml.read_text())
    assert declared["type"] == "extend_assets.ExtendWorkflowComponent"
    assert declared["attributes"]["prefix_template"] == "invoices/{date}/"
    # the project imports the checkout's package, installed into its own virtualenv
    where = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "python"), "-c",
         "import extend_assets; print(extend_assets.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(tmp_path / ".venv") in where.stdout
    assert "SetuptoolsDeprecationWarning" not in output
    # and this environment is as it was
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("invoices-dg")
