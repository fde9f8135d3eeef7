"""pytest fixtures: a fresh Extend emulator on loopback per test, or one per session.

Use them in your own project with ``pytest_plugins = ["extend_assets.emulator.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extend_assets.emulator.server import EmulatorServer


@pytest.fixture
def extend_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server


@pytest.fixture(scope="session")
def extend_emulator_session() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as server:
        yield server
