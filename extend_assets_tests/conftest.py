"""Shared fixtures: the Extend emulator and the local S3 server on loopback, and per-test
pieces for the pipeline tests (a fresh bucket, Dagster instance and DuckDB file)."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test

pytest_plugins = [
    "extend_assets.emulator.pytest_plugin",
    "extend_assets.localstack.pytest_plugin",
]


def pytest_configure(config: pytest.Config) -> None:
    """Interrupts behave as in a terminal, also when CI starts pytest in the background.

    A background job starts with SIGINT ignored, and each in-process Dagster run on the
    main thread ends by copying SIGINT's handler to SIGTERM: SIGTERM became ignored, so
    the ``tail`` children that mirror a step's logs ignored ``terminate()`` and every
    step of a later run in a thread waited out Dagster's 30 s clean-up bound twice.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _expected_cost(item: pytest.Item) -> float:
    """Seconds a ``slow`` test declares it runs (``@pytest.mark.slow(seconds=...)``)."""
    marker = item.get_closest_marker("slow")
    return 0.0 if marker is None else float(marker.kwargs.get("seconds", 30))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first. With ``--dist=loadscope --no-loadscope-reorder`` (pyproject) an
    xdist worker takes one module at a time, in the order of its first test here, as it
    frees up: the long end-to-end modules overlap with each other and with the short
    ones instead of one of them starting last, and a module's fixtures are set up once."""
    items.sort(key=_expected_cost, reverse=True)  # stable: ties keep collection order


@pytest.fixture
def bucket(local_s3: Any) -> str:
    name = f"docs-{uuid.uuid4().hex[:12]}"
    local_s3.boto3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_client(local_s3: Any) -> Any:
    return local_s3.boto3_client()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tables.duckdb"
