"""A run as the runs step writes it: the fields it matches on, and its JSON line.

A run is ~25 KB of JSON, and the runs step reads only a few fields of it: ``id``,
``status``, ``batchId`` and ``metadata`` (the same keys in both API versions) to match
the ledger, and each EXTRACT processor run's name and ``config`` to learn the
workflow's extractors. The rest goes to the raw file unchanged.

A run fetched with GET is a :class:`~extend_assets.client.WorkflowRun` already
(:func:`encode_run`). A landed event's payload is the run's JSON text, scrubbed of
presigned URLs when it was landed; :func:`decode_landed` reads those few fields with
msgspec (skipping the rest without building it) and keeps the text as the line, so a
landed run is neither parsed whole nor encoded again. Anything of another shape (a
payload msgspec refuses, a presigned URL still in it, ``outputs`` without a ``type``,
2026 ``stepRuns``, whose extractors sit inside the step results) gets ``None``: the
caller reads the run whole, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

import msgspec
import orjson

from extend_assets.client import WorkflowRun
from extend_assets.outputs.raw_files import has_presigned_urls, without_presigned_urls
from extend_assets.outputs.schema_union import Extractor, extractors_seen


class RunHead(Protocol):
    """What matching reads of a run (a :class:`WorkflowRun` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def batch_id(self) -> str | None: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class LandedHead:
    """A landed run's :class:`RunHead`, read as ``WorkflowRun.from_json`` reads it."""

    id: str
    status: str
    batch_id: str | None
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class RunLine:
    """One run ready to write: its head, its JSON line (no presigned URLs, no newline),
    and its extractors, computed only when asked (``extractors``) and, when
    ``extractors_key`` is set, once per distinct key: runs of one extractor share it."""

    head: RunHead
    line: bytes
    extractors: Callable[[], list[Extractor]]
    extractors_key: bytes | None = None


class _ProcessorHead(TypedDict, total=False):
    """A 2025 processor run without its outputs (never read for the extractors)."""

    type: Any
    config: msgspec.Raw
    processorName: Any
    processorId: Any
    extractor: Any
    files: Any


class _Head(TypedDict, total=False):
    id: Any
    status: Any
    batchId: Any
    metadata: Any
    files: Any
    outputs: list[_ProcessorHead] | None
    stepRuns: msgspec.Raw


_HEAD = msgspec.json.Decoder(_Head)
_ANY = msgspec.json.Decoder()
_NAMES = ("type", "processorName", "processorId", "extractor")


def encode_run(run: WorkflowRun) -> RunLine:
    """A run read whole (GET, or an unusual landed payload)."""
    raw = without_presigned_urls(run.raw)
    # orjson: ~10x the standard library's speed on a ~25 KB run, the same JSON.
    line = orjson.dumps(raw, default=str)
    return RunLine(head=run, line=line, extractors=lambda: extractors_seen([raw]))


def decode_landed(payload_json: bytes) -> RunLine | None:
    """A landed payload's line and head without parsing it whole; None when its shape
    asks for the whole run (see the module doc)."""
    try:
        head = _HEAD.decode(payload_json)
    except msgspec.MsgspecError:
        return None
    if has_presigned_urls(head):
        return None  # landed by a receiver that did not scrub them: scrubbed when read whole
    outputs = head.get("outputs")
    if outputs is None and bytes(head.get("stepRuns", b"null")).strip() not in (b"null", b""):
        return None  # 2026 step runs (or 2025 ones without outputs): read it whole
    outputs = outputs or []
    if not all(isinstance(o.get("type"), str) for o in outputs):
        return None  # the processor type is guessed from the outputs themselves
    batch_id, metadata = head.get("batchId"), head.get("metadata")
    landed = LandedHead(
        id=str(head.get("id") or ""),
        status=str(head.get("status") or ""),
        batch_id=None if batch_id is None else str(batch_id),
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
    )
    # A newline in JSON text is whitespace (strings escape theirs): one run per line.
    line = payload_json.replace(b"\n", b" ").replace(b"\r", b" ")
    return RunLine(
        head=landed,
        line=line,
        extractors=lambda: extractors_seen([{"outputs": [_decoded(o) for o in outputs]}]),
        extractors_key=_extractors_key(outputs),
    )


def _decoded(processor_run: _ProcessorHead) -> dict[str, Any]:
    out: dict[str, Any] = dict(processor_run)
    if "config" in out:
        out["config"] = _ANY.decode(out["config"])
    return out


def _extractors_key(outputs: list[_ProcessorHead]) -> bytes:
    """A digest of all that ``extractors_seen`` reads of these processor runs (their
    order, types, names and configs), so equal keys mean equal extractors."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(orjson.dumps([[o.get(k) for k in _NAMES] for o in outputs], default=str))
    for processor_run in outputs:
        config = bytes(processor_run.get("config", b""))
        digest.update(len(config).to_bytes(8, "big") + config)
    return digest.digest()
