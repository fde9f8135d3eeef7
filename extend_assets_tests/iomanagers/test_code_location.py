"""The bundled code location binds the user's IO manager and resources from the environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from extend_assets.definitions import build_definitions
from extend_assets.errors import ExtendAssetsConfigError

USER = "extend_assets_tests.iomanagers.user_resources"


def test_extend_io_manager_binds_the_users_io_manager(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EXTEND_IO_MANAGER", f"{USER}:delta_tables")
    monkeypatch.setenv("EXTEND_INTERNAL_IO_MANAGER", f"{USER}:delta_tables")
    monkeypatch.setenv("EXTEND_RESOURCES", f"{USER}:EXTRA")
    monkeypatch.setenv("TEST_DELTA_ROOT", str(tmp_path / "delta"))
    defs = build_definitions()
    repo = defs.get_repository_def()
    resources = repo.get_top_level_resources()
    assert {"io_manager", "internal_io_manager", "greeting"} <= set(resources)
    documents = repo.assets_defs_by_key[dg.AssetKey(["invoices", "extend_extracted_documents"])]
    runs = repo.assets_defs_by_key[dg.AssetKey(["invoices", "extend_workflow_runs"])]
    assert documents.get_io_manager_key_for_asset_key(documents.key) == "io_manager"
    assert runs.get_io_manager_key_for_asset_key(runs.key) == "internal_io_manager"
    # Delta Lake stores one partition per output: chosen for it, one run per partition.
    assert documents.backfill_policy is not None
    assert documents.backfill_policy.max_partitions_per_run == 1
    assert "delta" in next(iter(documents.specs)).kinds


def test_a_bad_reference_names_the_variable_and_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTEND_IO_MANAGER", "no_such_module:thing")
    with pytest.raises(ExtendAssetsConfigError, match=r"EXTEND_IO_MANAGER.*package\.module:attr"):
        build_definitions()


def test_single_partition_runs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTEND_SINGLE_PARTITION_RUNS", "true")
    repo = build_definitions().get_repository_def()
    runs = repo.assets_defs_by_key[dg.AssetKey(["invoices", "extend_workflow_runs"])]
    assert runs.backfill_policy is not None and runs.backfill_policy.max_partitions_per_run == 1
    monkeypatch.setenv("EXTEND_SINGLE_PARTITION_RUNS", "maybe")
    with pytest.raises(ExtendAssetsConfigError, match="EXTEND_SINGLE_PARTITION_RUNS"):
        build_definitions()
