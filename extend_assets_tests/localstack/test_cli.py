"""``extend-assets local-stack`` and ``extend-assets emulator``: up on fixed ports, env printed, Ctrl-C stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from extend_assets_tests.ports import free_port


def ctrl_c_as_in_a_terminal() -> None:
    """A suite started in the background (``cmd &``) ignores SIGINT, and so would the
    child: give it the terminal's default, which Python turns into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], ready: str) -> tuple[subprocess.Popen[str], list[str]]:
    command = [str(Path(sys.executable).with_name("extend-assets")), *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if ready in line:
            return proc, lines
    proc.kill()
    raise AssertionError("not ready:\n" + "\n".join(lines))


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=120)  # a hang guard, not a speed bound


def test_local_stack_prints_the_env_and_stops_on_ctrl_c() -> None:
    s3_port, emulator_port = free_port(), free_port()
    proc, lines = start(
        ["local-stack", "--documents", "12", "--days", "2", "--s3-port", str(s3_port),
         "--emulator-port", str(emulator_port)],
        "Ctrl-C",
    )  # fmt: skip
    try:
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if line.strip().startswith("export ")
        )
        assert exports["EXTEND_BASE_URL"] == f"http://127.0.0.1:{emulator_port}"
        assert exports["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{s3_port}"
        assert {
            "EXTEND_API_KEY",
            "EXTEND_S3_BUCKET",
            "EXTEND_S3_PREFIX",
            "EXTEND_START_DATE",
        } <= set(exports)
        answer = requests.get(
            exports["EXTEND_BASE_URL"] + "/workflow_runs",
            headers={
                "Authorization": f"Bearer {exports['EXTEND_API_KEY']}",
                "x-extend-api-version": "2025-04-21",
            },
            timeout=5,
        )
        assert answer.status_code == 200
    finally:
        assert stop(proc) == 0


def test_emulator_cli_prints_url_key_and_workflows() -> None:
    port = free_port()
    proc, lines = start(["emulator", "--port", str(port)], "Ctrl-C")
    try:
        text = "\n".join(lines)
        assert f"http://127.0.0.1:{port}" in text and "emulator-dev-key" in text
        assert "workflow workflow_sampleInvoices0000000" in text
    finally:
        assert stop(proc) == 0


def test_a_second_emulator_on_a_busy_state_file_or_port_exits_with_the_fix(tmp_path: Path) -> None:
    port, state = free_port(), tmp_path / "emulator.sqlite"
    proc, _ = start(["emulator", "--port", str(port), "--state", str(state)], "Ctrl-C")
    command = str(Path(sys.executable).with_name("extend-assets"))
    try:
        same_state = subprocess.run(
            [command, "emulator", "--port", str(free_port()), "--state", str(state)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        same_port = subprocess.run(
            [command, "emulator", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        assert stop(proc) == 0
    assert same_state.returncode == 2 and "Traceback" not in same_state.stderr
    assert f"{state} is in use by another emulator (pid {proc.pid})" in same_state.stderr
    assert same_port.returncode != 0 and "Traceback" not in same_port.stderr
    assert f"Port {port} is in use" in same_port.stderr  # Werkzeug's own message
