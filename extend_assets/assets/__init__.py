"""The assets of one workflow, one file per asset (file name = asset key), and the factory."""

from extend_assets.assets.factory import ExtendWorkflowDefinitions, build_extend_workflow_assets

__all__ = ["ExtendWorkflowDefinitions", "build_extend_workflow_assets"]
