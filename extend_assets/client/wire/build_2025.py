"""Version-neutral inputs → ``2025-04-21`` request bodies (``workflowId``/``version``,
``files[]`` or ``rawTexts[]`` per run request, ``fileUrl``/``fileId``/``fileName``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from extend_assets.client.wire.inputs import BatchInput, FileInput
from extend_assets.client.wire.versions import API_2026

#: How many runs one ``POST /workflow_runs`` may create.
MAX_RUNS_PER_CREATE = 50
#: Whether a batch may carry its own priority (2025: always 90).
BATCH_PRIORITY = False


def _workflow(workflow_id: str, version: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"workflowId": workflow_id}
    if version is not None:
        body["version"] = str(version)
    return body


def file_json(file: FileInput) -> dict[str, Any]:
    if file.password is not None:
        raise ValueError(f"a file password needs api_version {API_2026}")
    out: dict[str, Any] = {}
    for key, value in (("fileUrl", file.url), ("fileId", file.id), ("fileName", file.name)):
        if value is not None:
            out[key] = value
    if file.outputs is not None:
        out["outputs"] = file.outputs
    return out


def create_bodies(
    workflow_id: str,
    version: str | None,
    files: Sequence[FileInput],
    priority: int | None,
    metadata: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """One body for all (≤ 50) inputs: Extend makes one run per file or text."""
    if secrets is not None:
        raise ValueError(f"secrets on single runs need api_version {API_2026}")
    texts = [f.is_text for f in files]
    if any(texts) and not all(texts):
        raise ValueError("run_workflow: give files or raw texts, not both in one call")
    body = _workflow(workflow_id, version)
    if all(texts):
        body["rawTexts"] = [str(f.text) for f in files]
    else:
        body["files"] = [file_json(f) for f in files]
    if priority is not None:
        body["priority"] = priority
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return [body]


def package_body(*_: Any, **__: Any) -> dict[str, Any]:
    raise ValueError(f"a package of files run as one run needs api_version {API_2026}")


def batch_body(
    workflow_id: str, version: str | None, inputs: Sequence[BatchInput], priority: int | None
) -> dict[str, Any]:
    if priority is not None:
        raise ValueError(
            f"batch priority is fixed at 90 in 2025-04-21; set it with api_version {API_2026}"
        )
    wire_inputs: list[dict[str, Any]] = []
    for item in inputs:
        entry: dict[str, Any] = (
            {"rawText": item.file.text} if item.file.is_text else {"file": file_json(item.file)}
        )
        if item.metadata is not None:
            entry["metadata"] = item.metadata
        if item.secrets is not None:
            entry["secrets"] = item.secrets
        wire_inputs.append(entry)
    return {**_workflow(workflow_id, version), "inputs": wire_inputs}
