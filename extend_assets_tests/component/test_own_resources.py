"""The component takes the project's own IO manager and resources under keys it names."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
from dagster.components.testing import create_defs_folder_sandbox

from extend_assets import ExtendWorkflowComponent

RESOURCES_PY = """
import dagster as dg
from dagster_deltalake import LocalConfig
from dagster_deltalake_pandas import DeltaLakePandasIOManager

from extend_assets import ExtendResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": DeltaLakePandasIOManager(
                root_uri="{root}", storage_options=LocalConfig()
            ),
            "extend": ExtendResource(api_key=dg.EnvVar("EXTEND_API_KEY")),
        }
    )
"""


def test_keys_set_in_yaml_bind_the_projects_own_resources(tmp_path: Path) -> None:
    with create_defs_folder_sandbox(project_name="acme_own") as sandbox:
        sandbox.scaffold_component(
            component_cls=ExtendWorkflowComponent,
            defs_path="invoices",
            scaffold_params={"workflow_id": "workflow_x", "bucket": "b"},
            defs_yaml_contents={
                "type": "extend_assets.ExtendWorkflowComponent",
                "attributes": {
                    "name": "invoices",
                    "workflow_id": "workflow_x",
                    "bucket": "b",
                    "io_manager_key": "warehouse",
                    "internal_io_manager_key": "warehouse",
                    "extend_resource_key": "extend",
                    # The component cannot see another file's IO manager: say it here.
                    "single_partition_runs": True,
                },
            },
        )
        code = textwrap.dedent(RESOURCES_PY).replace("{root}", str(tmp_path / "delta"))
        (sandbox.defs_folder_path / "resources.py").write_text(code)
        with sandbox.build_all_defs() as defs:
            repo = defs.get_repository_def()
            resources = repo.get_top_level_resources()
            specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
            backfill = repo.assets_defs_by_key[
                dg.AssetKey(["invoices", "extend_extracted_documents"])
            ].backfill_policy
    assert {"warehouse", "extend"} <= set(resources)  # bound once: the project's own
    assert "invoices_io_manager" not in resources
    assert "invoices_documents" in resources  # the key left unset: the component's own
    assert specs["extend_extracted_documents"].metadata["partition_expr"] == "partition_date"
    # Delta stores one partition per output: backfills go one run per partition.
    assert backfill is not None and backfill.max_partitions_per_run == 1


def test_io_manager_key_with_database_keeps_the_bundled_duckdb(tmp_path: Path) -> None:
    component = ExtendWorkflowComponent.model_validate(
        {
            "workflow_id": "w",
            "bucket": "b",
            "io_manager_key": "tables",
            "database": str(tmp_path / "t.duckdb"),
        }
    )
    assert component.user_bound_keys() == []
