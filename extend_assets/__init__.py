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
    "S3DocumentSource": "extend_assets.sources",
    "build_extend_workflow_assets": "extend_assets.assets",
    "ExtendWorkflowDefinitions": "extend_assets.assets",
    "build_extend_run_status_sensor": "extend_assets.sensors",
}

__all__ = [
    "ExtendClient",
    "ExtendResource",
    "ExtendWorkflowDefinitions",
    "S3DocumentSource",
    "__version__",
    "build_extend_run_status_sensor",
    "build_extend_workflow_assets",
]

if TYPE_CHECKING:
    from extend_assets.assets import ExtendWorkflowDefinitions, build_extend_workflow_assets
    from extend_assets.client import ExtendClient
    from extend_assets.resources import ExtendResource
    from extend_assets.sensors import build_extend_run_status_sensor
    from extend_assets.sources import S3DocumentSource


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'extend_assets' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
