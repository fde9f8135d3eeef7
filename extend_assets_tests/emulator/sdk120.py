"""Installs the official ``extend-ai`` 1.20.0 SDK (API 2026-02-09) into its own folder.

It shares the package name ``extend_ai`` with the 0.2.0 this venv runs (API
2025-04-21), so it lives in a target folder (~/.cache: once per machine) and
runs in subprocesses with that folder first on ``PYTHONPATH``. Its dependencies
(httpx, pydantic) are the venv's. Only an unreachable package index skips the tests
that need it, with the pip output as the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SDK_VERSION = "1.20.0"
#: Where the SDK is installed once per machine (override: EXTEND_ASSETS_TEST_CACHE).
CACHE_ENV = "EXTEND_ASSETS_TEST_CACHE"
HERE = Path(__file__).resolve().parent


def sdk_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else Path.home() / ".cache" / "extend-assets-tests"
    base.mkdir(parents=True, exist_ok=True)
    return base


def install_sdk120(cache_dir: Path) -> Path:
    target = cache_dir / f"extend-ai-{SDK_VERSION}"
    marker = target / f"extend_ai-{SDK_VERSION}.dist-info"
    if marker.is_dir():
        return target
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
        "--target", str(target), f"extend-ai=={SDK_VERSION}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not marker.is_dir():
        pytest.skip(
            f"pip could not install extend-ai=={SDK_VERSION} (is the package index reachable?): "
            + done.stderr.strip()[-400:]
        )
    return target


def run_with_sdk120(target: Path, script: str, *args: str, timeout: float = 180) -> str:
    """Run ``script`` (a path, or a file beside this one) with SDK 1.20 importable; its
    stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(HERE.parent.parent)])}
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],  # HERE / an absolute path = that path
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout
