"""A run worker in a container of its own: ``python -m extend_assets_tests.deployment.run_worker JSON``.

JSON: ``{"job": name, "tags": {...}, "assets": [["invoices", "extend_extracted_documents"]]}``
runs a job of :mod:`step_location` (optionally a few of its assets); with
``{"from_failure": run_id}`` instead, re-executes that run from failure, as the UI's
"Re-execute from failure" does. The steps run in processes of their own (the location's
executor). Prints ``{"run_id": ..., "success": ...}`` as its last line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from dagster import AssetKey, DagsterInstance, ReexecutionOptions, execute_job
from dagster._core.definitions.reconstruct import ReconstructableRepository

LOCATION = "extend_assets_tests.deployment.step_location"
PARTITION_TAG_PREFIXES = ("dagster/partition", "dagster/asset_partition_range")


def main(spec: dict[str, Any]) -> dict[str, Any]:
    repository = ReconstructableRepository.for_module(LOCATION, "defs")
    with DagsterInstance.get() as instance:
        from_failure = spec.get("from_failure")
        if isinstance(from_failure, str):
            parent = instance.get_run_by_id(from_failure)
            assert parent is not None, f"no run {from_failure}"
            # The UI's re-execution keeps the parent's partition (execute_job alone does not).
            partition_tags = {
                k: v for k, v in parent.tags.items() if k.startswith(PARTITION_TAG_PREFIXES)
            }
            result = execute_job(
                repository.get_reconstructable_job(parent.job_name),
                instance=instance,
                tags=partition_tags,
                reexecution_options=ReexecutionOptions.from_failure(from_failure, instance),
            )
        else:
            assets = spec.get("assets")
            result = execute_job(
                repository.get_reconstructable_job(str(spec["job"])),
                instance=instance,
                tags=dict(spec.get("tags") or {}),
                asset_selection=[AssetKey(path) for path in assets] if assets else None,
            )
        return {"run_id": result.run_id, "success": result.success}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
