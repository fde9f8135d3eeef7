"""Client-side checks of request values (both versions), so mistakes fail before they
cost a request. File and batch inputs are checked in :mod:`.wire.inputs`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_RUN_FILES = 50
MAX_BATCH_INPUTS = 1000
MAX_METADATA_BYTES = 10 * 1024
MAX_PAGE_SIZE = 1000
USAGE_TAGS_KEY = "extend:usage_tags"
SORT_BY = ("updatedAt", "createdAt")
SORT_DIR = ("asc", "desc")
_NOT_TAG = re.compile(r"[^A-Za-z0-9_-]")


def metadata_size(metadata: Mapping[str, Any]) -> int:
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


def clean_metadata(metadata: Mapping[str, Any] | None, where: str) -> dict[str, Any] | None:
    """Checks the 10 KB limit and strips ``extend:usage_tags`` to ``[A-Za-z0-9_-]``."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise ValueError(
            f"{where}: metadata must be a JSON object (a dict), got {type(metadata).__name__}"
        )
    cleaned = dict(metadata)
    tags = cleaned.get(USAGE_TAGS_KEY)
    if tags is not None:
        if isinstance(tags, str) or not isinstance(tags, Sequence):
            raise ValueError(f"{where}: metadata['{USAGE_TAGS_KEY}'] must be a list of strings")
        cleaned[USAGE_TAGS_KEY] = [t for t in (_NOT_TAG.sub("", str(tag)) for tag in tags) if t]
    try:
        size = metadata_size(cleaned)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: metadata is not JSON-serializable ({error})") from None
    if size > MAX_METADATA_BYTES:
        raise ValueError(
            f"{where}: metadata is {size} bytes serialized; Extend accepts at most "
            f"{MAX_METADATA_BYTES}. Keep ids in metadata and the rest in your own tables."
        )
    return cleaned


def require_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def check_priority(priority: int | None) -> None:
    if priority is None:
        return
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
        raise ValueError(
            f"priority must be an integer from 1 to 100 (lower runs first), got {priority!r}"
        )


def check_page_size(page_size: int | None) -> None:
    if page_size is None:
        return
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValueError(f"page_size must be an integer from 1 to 1000, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")


def check_choice(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
