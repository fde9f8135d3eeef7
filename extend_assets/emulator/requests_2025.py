"""``2025-04-21`` run requests → the store's version-neutral inputs
(``{"file": {fileUrl, fileId, fileName}} | {"rawText"}`` with ``metadata``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extend_assets.emulator.checks import check_metadata, check_priority, check_version
from extend_assets.emulator.state import ApiError

MAX_FILES = 50
MAX_INPUTS = 1000
RUN_PRIORITY_DEFAULT = 50
BATCH_PRIORITY = 90


def require_workflow(body: Mapping[str, Any]) -> str:
    workflow_id = body.get("workflowId")
    if not isinstance(workflow_id, str) or not workflow_id:
        raise ApiError(400, "workflowId is required.")
    return workflow_id


def check_file(file: Any, where: str) -> dict[str, Any]:
    if not isinstance(file, dict):
        raise ApiError(400, f"{where} must be an object.")
    if not file.get("fileUrl") and not file.get("fileId"):
        raise ApiError(400, f"{where}: provide fileUrl or fileId.")
    for key in ("fileUrl", "fileId", "fileName"):
        if file.get(key) is not None and not isinstance(file[key], str):
            raise ApiError(400, f"{where}.{key} must be a string.")
    return {k: file.get(k) for k in ("fileUrl", "fileId", "fileName") if file.get(k)}


def create(body: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], int]:
    """(workflow id, version, inputs, priority) of ``POST /workflow_runs``."""
    workflow_id = require_workflow(body)
    files, texts = body.get("files"), body.get("rawTexts")
    if (files is None) == (texts is None):
        raise ApiError(400, "Provide exactly one of files or rawTexts.")
    items = files if files is not None else texts
    if not isinstance(items, list) or not items:
        raise ApiError(
            400, f"{'files' if files is not None else 'rawTexts'} must be a non-empty array."
        )
    if len(items) > MAX_FILES:
        raise ApiError(
            400,
            f"files: at most {MAX_FILES} per request (got {len(items)}); use /workflow_runs/batch.",
        )
    priority = check_priority(body.get("priority"), RUN_PRIORITY_DEFAULT)
    metadata = check_metadata(body.get("metadata"), "metadata")
    inputs: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if files is not None:
            inputs.append({"file": check_file(item, f"files[{i}]"), "metadata": metadata})
        else:
            if not isinstance(item, str):
                raise ApiError(400, f"rawTexts[{i}] must be a string.")
            inputs.append({"rawText": item, "metadata": metadata})
    return workflow_id, check_version(body.get("version")), inputs, priority


def batch(body: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], int]:
    """(workflow id, version, inputs, priority) of ``POST /workflow_runs/batch``."""
    workflow_id = require_workflow(body)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_INPUTS:
        count = len(inputs) if isinstance(inputs, list) else "no"
        raise ApiError(400, f"inputs must hold between 1 and {MAX_INPUTS} items (got {count}).")
    checked: list[dict[str, Any]] = []
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object with file or rawText.")
        has_file, has_text = item.get("file") is not None, item.get("rawText") is not None
        if has_file == has_text:
            raise ApiError(400, f"{where}: provide exactly one of file or rawText.")
        entry: dict[str, Any] = {
            "metadata": check_metadata(item.get("metadata"), f"{where}.metadata")
        }
        if has_file:
            entry["file"] = check_file(item["file"], f"{where}.file")
        elif not isinstance(item["rawText"], str):
            raise ApiError(400, f"{where}.rawText must be a string.")
        else:
            entry["rawText"] = item["rawText"]
        checked.append(entry)
    return workflow_id, check_version(body.get("version")), checked, BATCH_PRIORITY
