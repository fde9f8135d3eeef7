"""What callers pass, checked and made version-neutral before any request is built.

A file is a dict with a URL or a file id (either spelling: ``fileUrl``/``file_url``/
``url``, ``fileId``/``file_id``/``id``, ``fileName``/``file_name``/``name``), or a raw
``text``; a batch input is ``{"file": {...}}`` or ``{"rawText": "..."}`` with optional
``metadata`` and ``secrets``. The builders of each version render these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from extend_assets.client.validation import clean_metadata

_ALIASES = {
    "fileUrl": "url", "file_url": "url", "url": "url",
    "fileId": "id", "file_id": "id", "id": "id",
    "fileName": "name", "file_name": "name", "name": "name",
    "text": "text", "rawText": "text", "raw_text": "text",
    "password": "password", "settings": "settings", "outputs": "outputs",
}  # fmt: skip


@dataclass(frozen=True)
class FileInput:
    """One document to run: exactly one of ``url``, ``id`` or ``text`` is the source
    (2025 also allowed a URL and an id together; that pair is kept for 2025 only)."""

    url: str | None = None
    id: str | None = None
    name: str | None = None
    text: str | None = None
    password: str | None = None
    outputs: Any = None  # 2025 only: per-file provided outputs

    @property
    def is_text(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class BatchInput:
    file: FileInput
    metadata: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None


def file_input(file: Any, where: str) -> FileInput:
    if not isinstance(file, Mapping):
        raise ValueError(f"{where}: a file must be a dict with fileUrl, fileId or text")
    found: dict[str, Any] = {}
    for key, value in file.items():
        field = _ALIASES.get(key)
        if field is None:
            raise ValueError(
                f"{where}: unknown file field {key!r}; use fileUrl or fileId (or text), "
                "and fileName"
            )
        if value is not None:
            found[field] = value
    settings = found.pop("settings", None)
    if isinstance(settings, Mapping) and settings.get("password") is not None:
        found.setdefault("password", settings["password"])
    for key in ("url", "id", "name", "text", "password"):
        if key in found and not isinstance(found[key], str):
            raise ValueError(f"{where}.{key} must be a string, got {type(found[key]).__name__}")
    if not found.get("url") and not found.get("id") and found.get("text") is None:
        raise ValueError(f"{where}: a file needs fileUrl (e.g. a presigned URL), fileId or text")
    if found.get("text") is not None and (found.get("url") or found.get("id")):
        raise ValueError(f"{where}: give a file's text or its URL/id, not both")
    return FileInput(**found)


def text_input(text: Any, where: str) -> FileInput:
    if not isinstance(text, str):
        raise ValueError(f"{where}: a raw text must be a string, got {type(text).__name__}")
    return FileInput(text=text)


def secrets_input(secrets: Any, where: str = "secrets") -> dict[str, Any] | None:
    if secrets is None:
        return None
    if not isinstance(secrets, Mapping):
        raise ValueError(f"{where} must be a dict")
    return dict(secrets)


def batch_input(item: Any, index: int) -> BatchInput:
    where = f"inputs[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: each input must be a dict with 'file' or 'rawText'")
    unknown = set(item) - {"file", "rawText", "metadata", "secrets"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
    has_file = item.get("file") is not None
    has_text = item.get("rawText") is not None
    if has_file == has_text:
        raise ValueError(f"{where}: give exactly one of 'file' or 'rawText'")
    file = (
        file_input(item["file"], where + ".file")
        if has_file
        else text_input(item["rawText"], where + ".rawText")
    )
    return BatchInput(
        file=file,
        metadata=clean_metadata(item.get("metadata"), where),
        secrets=secrets_input(item.get("secrets"), where + ".secrets"),
    )
