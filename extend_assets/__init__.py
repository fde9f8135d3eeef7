"""Dagster assets that turn a bucket of documents into tables through Extend workflows.

The names below load lazily, so ``import extend_assets.client`` (plain Python, for a
notebook) does not import Dagster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ExtendClient": "extend_assets.client",
    "ExtendResource": "extend_assets.resources",
    "S3DocumentSource": "extend_assets.resources",
    "ExtendDuckDBIOManager": "extend_assets.io_manager",
    "ExtendWorkflowConfig": "extend_assets.config",
    "ExtendWorkflowComponent": "extend_assets.component",
    "build_extend_workflow_assets": "extend_assets.assets",
    "ExtendWorkflowDefinitions": "extend_assets.assets",
    "build_extend_run_status_sensor": "extend_assets.sensor_builder",
    "forked_steps_executor": "extend_assets.executor",
    "ExtendAssetsError": "extend_assets.errors",
    "ExtendAssetsConfigError": "extend_assets.errors",
    "PartitionSelectionError": "extend_assets.errors",
    "DocumentSourceError": "extend_assets.errors",
    "SubmissionError": "extend_assets.errors",
    "TableNameClashError": "extend_assets.errors",
}

__all__ = [
    "DocumentSourceError",
    "ExtendAssetsConfigError",
    "ExtendAssetsError",
    "ExtendClient",
    "ExtendDuckDBIOManager",
    "ExtendResource",
    "ExtendWorkflowComponent",
    "ExtendWorkflowConfig",
    "ExtendWorkflowDefinitions",
    "PartitionSelectionError",
    "S3DocumentSource",
    "SubmissionError",
    "TableNameClashError",
    "__version__",
    "build_extend_run_status_sensor",
    "build_extend_workflow_assets",
    "forked_steps_executor",
]

if TYPE_CHECKING:
    from extend_assets.assets import ExtendWorkflowDefinitions, build_extend_workflow_assets
    from extend_assets.client import ExtendClient
    from extend_assets.component import ExtendWorkflowComponent
    from extend_assets.config import ExtendWorkflowConfig
    from extend_assets.errors import (
        DocumentSourceError,
        ExtendAssetsConfigError,
        ExtendAssetsError,
        PartitionSelectionError,
        SubmissionError,
        TableNameClashError,
    )
    from extend_assets.executor import forked_steps_executor
    from extend_assets.io_manager import ExtendDuckDBIOManager
    from extend_assets.resources import ExtendResource, S3DocumentSource
    from extend_assets.sensor_builder import build_extend_run_status_sensor


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'extend_assets' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    # dg finds the component by scanning dir(extend_assets) (the registry entry point).
    return sorted({*globals(), *_EXPORTS})
