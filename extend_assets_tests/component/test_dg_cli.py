"""The component through the real ``dg`` commands, in a fresh project (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DG = Path(sys.executable).with_name("dg")
REPO = Path(__file__).resolve().parents[2]
PYPROJECT = """\
[project]
name = "acme"
version = "0.0.1"
requires-python = ">=3.11"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "acme"
"""
DEFINITIONS = """\
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def dg_run(project: Path, *args: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EXTEND_", "DAGSTER_"))},
        "VIRTUAL_ENV": sys.prefix,  # dg runs Python from the active environment
        "PYTHONPATH": str(project / "src"),
        "NO_COLOR": "1",
        "COLUMNS": "250",
    }
    done = subprocess.run(
        [str(DG), *args], cwd=project, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"dg {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    package = root / "src" / "acme"
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(DEFINITIONS)
    return root


@pytest.mark.slow(seconds=45)
@pytest.mark.timeout(600)
def test_list_scaffold_check_and_load_two_workflows_with_dg(project: Path) -> None:
    assert "extend_assets.ExtendWorkflowComponent" in dg_run(project, "list", "components")

    for name in ("invoices", "receipts"):
        dg_run(
            project, "scaffold", "defs", "extend_assets.ExtendWorkflowComponent", name,
            "--workflow-id", f"workflow_{name}", "--bucket", "acme-docs",
            "--prefix-template", f"{name}/{{date}}/",
        )  # fmt: skip
    invoices_yaml = project / "src" / "acme" / "defs" / "invoices" / "defs.yaml"
    scaffolded = yaml.safe_load(invoices_yaml.read_text())
    assert scaffolded == {
        "type": "extend_assets.ExtendWorkflowComponent",
        "attributes": {
            "name": "invoices",
            "workflow_id": "workflow_invoices",
            "bucket": "acme-docs",
            "prefix_template": "invoices/{date}/",
            "database": "invoices_tables.duckdb",
        },
        "requirements": {"env": ["EXTEND_API_KEY"]},
    }
    receipts_yaml = project / "src" / "acme" / "defs" / "receipts" / "defs.yaml"
    document = yaml.safe_load(receipts_yaml.read_text())
    document["post_processing"] = {
        "assets": [{"target": "*", "attributes": {"owners": ["team:finance"]}}]
    }
    receipts_yaml.write_text(yaml.safe_dump(document))

    assert "All definitions loaded successfully" in dg_run(project, "check", "defs")
    listed = json.loads(dg_run(project, "list", "defs", "--json"))
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert "invoices/extend_extracted_documents" in assets
    assert "receipts/extend_extracted_documents" in assets
    assert "duckdb" in assets["invoices/extend_extracted_documents"]["kinds"]
    assert assets["receipts/extend_workflow_batches"]["owners"]  # post_processing applied
    assert not assets["invoices/extend_workflow_batches"]["owners"]
    resources = {r["name"] for r in listed["resources"]}
    assert {"invoices_extend", "receipts_extend", "receipts_io_manager"} <= resources
    assert {s["name"] for s in listed["sensors"]} == {
        "invoices_extend_run_status_sensor",
        "receipts_extend_run_status_sensor",
    }


@pytest.mark.slow(seconds=20)
def test_dg_check_defs_works_on_this_repository() -> None:
    assert "All definitions loaded successfully" in dg_run(REPO, "check", "defs")
