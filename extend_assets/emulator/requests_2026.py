"""``2026-02-09`` run requests → the store's version-neutral inputs.

``workflow: {id, version?}``; exactly one of ``file`` (``{url, name?, settings?}`` /
``{id}`` / ``{text, name?}``, told apart by which key is present) or ``package``
(2-50 URL/id files, no duplicates, no ``outputs``); batch ``inputs[].file`` and an
optional ``priority``. Schema failures answer 422 ``INVALID_REQUEST``.
"""

from __future__ import annotations

from typing import Any

from extend_assets.emulator.checks import (
    check_metadata,
    check_priority,
    check_secrets,
    check_version,
)
from extend_assets.emulator.state import ApiError

INVALID = 422
MAX_INPUTS = 1000
PACKAGE_FILES = (2, 50)
RUN_PRIORITY_DEFAULT = 50
BATCH_PRIORITY_DEFAULT = 90
_SOURCES = ("url", "id", "text")


def workflow_of(body: dict[str, Any]) -> tuple[str, str | None]:
    ref = body.get("workflow")
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise ApiError(INVALID, "workflow is required: an object {id, version?}.")
    return ref["id"], check_version(ref.get("version"), INVALID)


def file_of(file: Any, where: str, allow_text: bool = True) -> dict[str, Any]:
    """A ``FileFromUrl | FileFromId | FileFromText`` as a neutral input."""
    if not isinstance(file, dict):
        raise ApiError(INVALID, f"{where} must be an object with url, id or text.")
    present = [k for k in _SOURCES if file.get(k) is not None]
    if len(present) != 1:
        raise ApiError(INVALID, f"{where}: provide exactly one of url, id or text.")
    for key in (*_SOURCES, "name"):
        if file.get(key) is not None and not isinstance(file[key], str):
            raise ApiError(INVALID, f"{where}.{key} must be a string.")
    if present == ["text"]:
        if not allow_text:
            raise ApiError(INVALID, f"{where}: a package takes url or id files, not text.")
        return {"rawText": file["text"], "name": file.get("name")}
    if present == ["id"]:
        return {"file": {"fileId": file["id"]}}
    settings = file.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ApiError(INVALID, f"{where}.settings must be an object.")
    return {
        "file": {k: v for k, v in (("fileUrl", file["url"]), ("fileName", file.get("name"))) if v}
    }


def create(body: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], int]:
    """(workflow id, version, [one input], priority) of ``POST /workflow_runs``."""
    workflow_id, version = workflow_of(body)
    if (body.get("file") is None) == (body.get("package") is None):
        raise ApiError(INVALID, "Provide exactly one of file or package.")
    priority = check_priority(body.get("priority"), RUN_PRIORITY_DEFAULT, INVALID)
    metadata = check_metadata(body.get("metadata"), "metadata", INVALID)
    secrets = check_secrets(body.get("secrets"), "secrets", INVALID)
    outputs = body.get("outputs")
    if outputs is not None and not isinstance(outputs, list):
        raise ApiError(INVALID, "outputs must be an array of {processorId, output}.")
    if body.get("file") is not None:
        entry = file_of(body["file"], "file")
    else:
        if outputs is not None:
            raise ApiError(INVALID, "outputs cannot be given with a package.")
        entry = {"package": package_of(body["package"])}
    entry.update(metadata=metadata, secrets=secrets)
    return workflow_id, version, [entry], priority


def package_of(package: Any) -> list[dict[str, Any]]:
    files = package.get("files") if isinstance(package, dict) else None
    low, high = PACKAGE_FILES
    if not isinstance(files, list) or not low <= len(files) <= high:
        count = len(files) if isinstance(files, list) else "no"
        raise ApiError(INVALID, f"package.files must hold {low} to {high} files (got {count}).")
    seen: set[tuple[str, str]] = set()
    out = []
    for i, file in enumerate(files):
        member = file_of(file, f"package.files[{i}]", allow_text=False)["file"]
        identity = ("id", member["fileId"]) if "fileId" in member else ("url", member["fileUrl"])
        if identity in seen:
            raise ApiError(INVALID, f"package.files[{i}]: duplicate {identity[0]}.")
        seen.add(identity)
        out.append(member)
    return out


def batch(body: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], int]:
    """(workflow id, version, inputs, priority) of ``POST /workflow_runs/batch``."""
    workflow_id, version = workflow_of(body)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_INPUTS:
        count = len(inputs) if isinstance(inputs, list) else "no"
        raise ApiError(INVALID, f"inputs must hold between 1 and {MAX_INPUTS} items (got {count}).")
    priority = check_priority(body.get("priority"), BATCH_PRIORITY_DEFAULT, INVALID)
    checked: list[dict[str, Any]] = []
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(item, dict) or item.get("file") is None:
            raise ApiError(INVALID, f"{where}.file is required.")
        entry = file_of(item["file"], f"{where}.file")
        entry["metadata"] = check_metadata(item.get("metadata"), f"{where}.metadata", INVALID)
        entry["secrets"] = check_secrets(item.get("secrets"), f"{where}.secrets", INVALID)
        checked.append(entry)
    return workflow_id, version, checked, priority
