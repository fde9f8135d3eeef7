"""The official ``extend-ai`` SDK 1.20.0 (API 2026-02-09) against the emulator, as
``test_sdk_contract.py`` does with 0.2.0 at 2025-04-21: it drives every workflow-run
endpoint and every declared error status (400, 401, 402, 403, 404, 422, 429, 500),
and its models strictly parse every answer (see ``sdk120_driver.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extend_assets.emulator import SAMPLE_WORKFLOW_ID, EmulatorServer
from extend_assets_tests.emulator.sdk120 import install_sdk120, run_with_sdk120, sdk_cache_dir


@pytest.fixture(scope="session")
def sdk120() -> Path:
    return install_sdk120(sdk_cache_dir())


def test_sdk120_drives_every_endpoint_and_error_and_parses_every_answer(sdk120: Path) -> None:
    with EmulatorServer(port=0) as emu:
        out = run_with_sdk120(
            sdk120, "sdk120_driver.py", emu.base_url, emu.api_key, SAMPLE_WORKFLOW_ID
        )
    report = json.loads(out.strip().splitlines()[-1])
    assert report["create_and_poll"] == "PROCESSED"
    assert sorted(report["errors"]) == ["400", "401", "402", "403", "404", "422", "429", "500"]
    assert all(int(code) == status for code, status in report["errors"].items())
    assert report["strictly_parsed"] >= 20
