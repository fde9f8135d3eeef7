"""Request checks both versions share: the JSON body, metadata, priority, version label."""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.wrappers import Request

from extend_assets.emulator.state import ApiError

MAX_METADATA_BYTES = 10 * 1024
_NOT_TAG = re.compile(r"[^A-Za-z0-9_-]")


def body_of(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def check_version(version: Any, status: int = 400) -> str | None:
    if version is not None and not isinstance(version, str):
        raise ApiError(status, 'version must be a string such as "3" or "draft".')
    return version


def check_priority(priority: Any, default: int, status: int = 400) -> int:
    if priority is None:
        return default
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
        raise ApiError(
            status, f"priority must be an integer between 1 and 100 inclusive (got {priority!r})."
        )
    return priority


def check_metadata(metadata: Any, where: str, status: int = 400) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ApiError(status, f"{where} must be a JSON object.")
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ApiError(
            status, f"{where} is {size} bytes; the limit is {MAX_METADATA_BYTES} bytes (10 KB)."
        )
    tags = metadata.get("extend:usage_tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise ApiError(status, f"{where}['extend:usage_tags'] must be an array of strings.")
    if tags is not None:
        metadata = {**metadata, "extend:usage_tags": [_NOT_TAG.sub("", t) for t in tags]}
    return metadata


def check_secrets(secrets: Any, where: str, status: int = 400) -> dict[str, Any] | None:
    if secrets is not None and not isinstance(secrets, dict):
        raise ApiError(status, f"{where} must be a JSON object.")
    return secrets
