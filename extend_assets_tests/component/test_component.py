"""ExtendWorkflowComponent: options derived from ExtendWorkflowConfig, per-instance
resource keys, and several workflows merging in one code location."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster.components.testing import create_defs_folder_sandbox

from extend_assets import (
    ExtendDuckDBIOManager,
    ExtendResource,
    ExtendWorkflowComponent,
    ExtendWorkflowConfig,
    S3DocumentSource,
    build_extend_workflow_assets,
)
from extend_assets.component import PYTHON_ONLY_OPTIONS
from extend_assets.errors import ExtendAssetsConfigError


def test_every_option_of_the_config_is_an_attribute_declared_once() -> None:
    options = set(ExtendWorkflowConfig.model_fields) - set(PYTHON_ONLY_OPTIONS)
    attributes = set(ExtendWorkflowComponent.model().model_fields)
    assert options <= attributes
    assert attributes - options == {"database", "api_key_env_var"}
    described = ExtendWorkflowComponent.model().model_fields["review_policy"].description
    assert described == ExtendWorkflowConfig.model_fields["review_policy"].description


def test_a_bad_option_names_itself_when_the_component_builds() -> None:
    component = ExtendWorkflowComponent.model_validate(
        {"workflow_id": "w", "bucket": "b", "priority": 0}
    )
    with pytest.raises(ExtendAssetsConfigError, match="priority"):
        component.workflow_config()


def test_instances_get_their_own_resource_keys() -> None:
    component = ExtendWorkflowComponent.model_validate(
        {"name": "receipts", "workflow_id": "w", "bucket": "b"}
    )
    config = component.workflow_config()
    assert config.extend_resource_key == "receipts_extend"
    assert config.source_resource_key == "receipts_documents"
    assert config.io_manager_key == "receipts_io_manager"


def _python_workflow(name: str, resources: Mapping[str, Any]) -> dg.Definitions:
    workflow = build_extend_workflow_assets(name=name, workflow_id=f"workflow_{name}", bucket="b")
    return workflow.to_definitions(resources)


def test_two_python_workflows_merge_when_they_share_the_resource_objects(tmp_path: Path) -> None:
    shared = {
        "extend": ExtendResource(api_key=dg.EnvVar("EXTEND_API_KEY")),
        "documents": S3DocumentSource(),
        "io_manager": ExtendDuckDBIOManager(database=str(tmp_path / "tables.duckdb")),
    }
    defs = dg.Definitions.merge(
        _python_workflow("invoices", shared), _python_workflow("receipts", shared)
    )
    repo = defs.get_repository_def()
    assert {s.name for s in repo.sensor_defs} == {
        "invoices_extend_run_status_sensor",
        "receipts_extend_run_status_sensor",
    }
    assert (
        dg.AssetKey(["receipts", "extend_extracted_documents"])
        in repo.asset_graph.get_all_asset_keys()
    )


def test_two_components_load_side_by_side_in_one_location(tmp_path: Path) -> None:
    with create_defs_folder_sandbox(project_name="acme") as sandbox:
        for name in ("invoices", "receipts"):
            sandbox.scaffold_component(
                component_cls=ExtendWorkflowComponent,
                defs_path=name,
                scaffold_params={"workflow_id": f"workflow_{name}", "bucket": "b"},
                defs_yaml_contents={
                    "type": "extend_assets.ExtendWorkflowComponent",
                    "attributes": {
                        "name": name,
                        "workflow_id": f"workflow_{name}",
                        "bucket": "b",
                        "database": str(tmp_path / f"{name}_tables.duckdb"),
                    },
                },
            )
        with sandbox.build_all_defs() as defs:
            repo = defs.get_repository_def()
            keys = set(repo.get_top_level_resources())
    assert {"invoices_extend", "receipts_extend", "invoices_io_manager"} <= keys


def test_owners_tags_automation_freshness_and_kinds_reach_the_specs(tmp_path: Path) -> None:
    from datetime import timedelta

    workflow = build_extend_workflow_assets(
        workflow_id="w",
        bucket="b",
        owners=("team:data",),
        tags={"domain": "finance"},
        automation_condition=dg.AutomationCondition.on_cron("0 6 * * *"),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30)),
    )
    defs = workflow.to_definitions(
        {
            "extend": ExtendResource(api_key="k"),
            "documents": S3DocumentSource(),
            "io_manager": ExtendDuckDBIOManager(database=str(tmp_path / "tables.duckdb")),
        }
    )
    specs = {spec.key.path[-1]: spec for spec in defs.resolve_all_asset_specs()}
    assert all(s.owners == ["team:data"] and s.tags["domain"] == "finance" for s in specs.values())
    assert all("duckdb" in s.kinds for s in specs.values())
    automated = {name for name, s in specs.items() if s.automation_condition is not None}
    assert automated == {"extend_source_documents", "extend_workflow_batches"}
    fresh = {name for name, s in specs.items() if s.freshness_policy is not None}
    assert fresh == {"extend_extracted_documents", "extend_extracted_line_items"}
    # another IO manager, another kind; an unknown one claims none
    from extend_assets.assets.factory import storage_kind

    assert storage_kind(dg.FilesystemIOManager()) is None
    assert storage_kind(None) is None


def test_an_automation_condition_template_in_yaml(tmp_path: Path) -> None:
    with create_defs_folder_sandbox(project_name="acme") as sandbox:
        sandbox.scaffold_component(
            component_cls=ExtendWorkflowComponent,
            defs_path="invoices",
            scaffold_params={"workflow_id": "workflow_i"},
            defs_yaml_contents={
                "type": "extend_assets.ExtendWorkflowComponent",
                "attributes": {
                    "name": "invoices",
                    "workflow_id": "workflow_i",
                    "bucket": "b",
                    "database": str(tmp_path / "invoices_tables.duckdb"),
                    "automation_condition": "{{ automation_condition.on_cron('0 6 * * *') }}",
                    "owners": ["team:ap"],
                },
            },
        )
        with sandbox.build_all_defs() as defs:
            specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
    assert specs["extend_workflow_batches"].automation_condition is not None
    assert specs["extend_extracted_documents"].automation_condition is None
    assert specs["extend_extracted_documents"].owners == ["team:ap"]
