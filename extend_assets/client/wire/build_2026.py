"""Version-neutral inputs → ``2026-02-09`` request bodies: ``workflow: {id, version?}``,
ONE ``file`` (``{url, name?}`` / ``{id}`` / ``{text, name?}``) per ``POST /workflow_runs``
or a ``package`` of 2-50 files, batch ``inputs[].file`` with an optional ``priority``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from extend_assets.client.wire.inputs import BatchInput, FileInput

#: How many runs one ``POST /workflow_runs`` may create.
MAX_RUNS_PER_CREATE = 1
#: Whether a batch may carry its own priority.
BATCH_PRIORITY = True
MIN_PACKAGE_FILES = 2
MAX_PACKAGE_FILES = 50


def _workflow(workflow_id: str, version: str | None) -> dict[str, Any]:
    reference: dict[str, Any] = {"id": workflow_id}
    if version is not None:
        reference["version"] = str(version)
    return {"workflow": reference}


def file_json(file: FileInput, where: str = "file") -> dict[str, Any]:
    if file.outputs is not None:
        raise ValueError(
            f"{where}: per-file outputs are 2025-04-21 only; 2026-02-09 takes top-level outputs"
        )
    if file.is_text:
        out: dict[str, Any] = {"text": file.text}
        if file.name is not None:
            out["name"] = file.name
        return out
    if file.url and file.id:
        raise ValueError(f"{where}: give a URL or a file id, not both (2026-02-09)")
    if file.id:
        return {"id": file.id}
    out = {"url": file.url}
    if file.name is not None:
        out["name"] = file.name
    if file.password is not None:
        out["settings"] = {"password": file.password}
    return out


def _options(
    body: dict[str, Any],
    priority: int | None,
    metadata: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if priority is not None:
        body["priority"] = priority
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if secrets is not None:
        body["secrets"] = dict(secrets)
    return body


def create_bodies(
    workflow_id: str,
    version: str | None,
    files: Sequence[FileInput],
    priority: int | None,
    metadata: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """One body per input: 2026 runs one file per request."""
    return [
        _options(
            {**_workflow(workflow_id, version), "file": file_json(f, f"files[{i}]")},
            priority,
            metadata,
            secrets,
        )
        for i, f in enumerate(files)
    ]


def package_body(
    workflow_id: str,
    version: str | None,
    files: Sequence[FileInput],
    priority: int | None,
    metadata: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if not MIN_PACKAGE_FILES <= len(files) <= MAX_PACKAGE_FILES:
        raise ValueError(
            f"a package holds {MIN_PACKAGE_FILES} to {MAX_PACKAGE_FILES} files, got {len(files)}"
        )
    seen: set[tuple[str, str]] = set()
    wire_files = []
    for i, f in enumerate(files):
        if f.is_text:
            raise ValueError(f"package.files[{i}]: a package takes URLs or file ids, not text")
        wire = file_json(f, f"package.files[{i}]")
        identity = ("id", wire["id"]) if "id" in wire else ("url", wire["url"])
        if identity in seen:
            raise ValueError(f"package.files[{i}]: the same {identity[0]} is given twice")
        seen.add(identity)
        wire_files.append(wire)
    body = {**_workflow(workflow_id, version), "package": {"files": wire_files}}
    return _options(body, priority, metadata, secrets)


def batch_body(
    workflow_id: str, version: str | None, inputs: Sequence[BatchInput], priority: int | None
) -> dict[str, Any]:
    wire_inputs: list[dict[str, Any]] = []
    for i, item in enumerate(inputs):
        entry: dict[str, Any] = {"file": file_json(item.file, f"inputs[{i}].file")}
        if item.metadata is not None:
            entry["metadata"] = item.metadata
        if item.secrets is not None:
            entry["secrets"] = item.secrets
        wire_inputs.append(entry)
    body = {**_workflow(workflow_id, version), "inputs": wire_inputs}
    if priority is not None:
        body["priority"] = priority
    return body
