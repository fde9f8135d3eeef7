"""What the commands need is in the package, and a missing piece names its fix."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from typing import Any

import pytest

from extend_assets.cli import main
from extend_assets.cli.dev import dagster_dev_command
from extend_assets.cli.environment import dagster_yaml_text, install_dagster_yaml


def test_the_instance_settings_ship_in_the_package(tmp_path: Path) -> None:
    assert "storage:" in dagster_yaml_text() and "extend_api" in dagster_yaml_text()
    written = install_dagster_yaml(tmp_path / "home")
    assert written.read_text() == dagster_yaml_text()
    written.write_text("kept: true\n")
    install_dagster_yaml(tmp_path / "home", overwrite=False)
    assert written.read_text() == "kept: true\n"


def test_dagster_dev_loads_the_code_location_as_a_module_not_a_workspace_file() -> None:
    command = dagster_dev_command(3999)
    assert command[command.index("-m", 2) + 1] == "extend_assets.definitions"
    assert "-w" not in command and "3999" in command


def test_a_missing_local_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def without_fpdf(name: str, *args: Any) -> Any:
        return None if name == "fpdf" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_fpdf)
    assert main(["local-stack", "--documents", "1"]) == 2
    error = capsys.readouterr().err
    assert "fpdf2" in error and "pip install '.[local]'" in error
    assert "pip install 'fpdf2'" in error  # the package names alone work wherever it came from


def test_dev_on_a_busy_port_exits_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["dev", "--port", str(port), "--home", str(tmp_path / "home")])
    assert code == 2
    error = capsys.readouterr().err
    assert f"port {port}" in error and f"--port {port + 1}" in error
    assert not (tmp_path / "home").exists()  # nothing started, nothing written


def test_dagster_yaml_prints_the_packaged_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dagster-yaml"]) == 0
    assert capsys.readouterr().out == dagster_yaml_text()
