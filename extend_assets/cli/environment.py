"""What the commands need from the machine: the packaged ``dagster.yaml`` and a free port.

Everything here works from a plain (non-editable) install: files come from the
package itself, never from a source checkout.
"""

from __future__ import annotations

import shutil
import socket
from importlib import resources
from pathlib import Path

PACKAGED_DAGSTER_YAML = "dagster.yaml"


def dagster_yaml_text() -> str:
    """The instance settings shipped in ``extend_assets/cli/dagster.yaml``."""
    return resources.files("extend_assets.cli").joinpath(PACKAGED_DAGSTER_YAML).read_text()


def install_dagster_yaml(home: Path, *, overwrite: bool = True) -> Path:
    """Write the packaged ``dagster.yaml`` into ``home`` (a DAGSTER_HOME); return its path."""
    target = home / "dagster.yaml"
    if overwrite or not target.exists():
        home.mkdir(parents=True, exist_ok=True)
        target.write_text(dagster_yaml_text())
    return target


def wipe(home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port`` (or it cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
