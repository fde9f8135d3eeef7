"""A raw run decoded for the tables: only the parts the flattener reads.

A raw run is ~25 KB of JSON, and most of it never reaches a table: each EXTRACT
output is there twice (``output`` and ``initialOutput``), and each field's metadata
entry carries citations and insights besides the confidences. Building Python objects
for all of it was most of a table step's time. Here the line is decoded with msgspec
against the shape of :mod:`extend_assets.flatten.runs`'s readers:

- ``config.schema`` of a processor run only as whether there is one (``True`` for a
  non-empty schema: the tables follow the workflow's schema union, kept apart);
- the run's own fields that the documents, line-items and splits tables read, nothing
  else (``files`` of the run and each processor run are kept for the splits);
- per processor run, ``reviewedOutput``, then ``output``, then ``initialOutput`` are
  decoded only until one holds something (:func:`~extend_assets.flatten.runs.final_output`
  reads no further); the ones after it are left out;
- an EXTRACT output whose config has a JSON Schema is read as ``{value, metadata}``
  with each metadata entry's confidences only (``logprobsConfidence``,
  ``ocrConfidence``, ``reviewAgentScore``, ``confidence``).

Anything of another shape (an output with other keys, a metadata entry that is not an
object, ``outputs`` that is not a list, JSON that msgspec refuses) is decoded whole,
as :func:`extend_assets.outputs.raw_reader.parse_line` does; so the tables get the
same rows, values and errors either way.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

from extend_assets.outputs.raw_reader import parse_line


class _MetadataEntry(TypedDict, total=False):
    logprobsConfidence: Any
    ocrConfidence: Any
    reviewAgentScore: Any
    confidence: Any


class _JsonOutput(msgspec.Struct, forbid_unknown_fields=True):
    """An EXTRACT JsonOutput; another key makes it fail, so it is decoded whole."""

    value: Any = msgspec.UNSET
    metadata: dict[str, _MetadataEntry] | msgspec.UnsetType | None = msgspec.UNSET


class _Config(TypedDict, total=False):
    type: Any
    fields: Any
    schema: msgspec.Raw


class _ProcessorRun(TypedDict, total=False):
    id: Any
    type: Any
    config: _Config | None
    edited: Any
    files: Any
    processorName: Any
    processorId: Any
    extractor: Any
    stepType: Any
    reviewedOutput: msgspec.Raw
    output: msgspec.Raw
    initialOutput: msgspec.Raw


class _Run(TypedDict, total=False):
    id: Any
    status: Any
    metadata: Any
    batchId: Any
    files: Any
    failureReason: Any
    failureMessage: Any
    reviewed: Any
    reviewedBy: Any
    reviewedByUser: Any
    reviewedAt: Any
    initialRunAt: Any
    startTime: Any
    endTime: Any
    usage: Any
    workflow: Any
    workflowVersion: Any
    outputs: list[_ProcessorRun] | None
    stepRuns: Any


#: In the order :func:`extend_assets.flatten.runs.final_output` reads them.
OUTPUT_KEYS = ("reviewedOutput", "output", "initialOutput")

_RUN = msgspec.json.Decoder(_Run)
_JSON_OUTPUT = msgspec.json.Decoder(_JsonOutput)
_ANY = msgspec.json.Decoder()
_KEYS = msgspec.json.Decoder(dict[str, msgspec.Raw])


def table_view(line: bytes) -> Any:
    """The run on ``line`` with what the tables read; the whole run when its shape is
    unusual; raises like :func:`~extend_assets.outputs.raw_reader.parse_line` on bad JSON."""
    try:
        run: dict[str, Any] = _RUN.decode(line)  # type: ignore[assignment]
        for processor_run in run.get("outputs") or ():
            _decode_outputs(processor_run)
    except msgspec.MsgspecError:
        return parse_line(line)
    return run


def _decode_outputs(processor_run: dict[str, Any]) -> None:
    """Replace the raw outputs by their values, up to the first that holds something."""
    config = processor_run.get("config")
    if config is not None and "schema" in config:
        config["schema"] = _schema_presence(config["schema"])
    typed = processor_run.get("type") == "EXTRACT" and bool(config and config.get("schema"))
    found = False
    for key in OUTPUT_KEYS:
        raw = processor_run.get(key)
        if raw is None:
            continue
        if found:
            del processor_run[key]  # never read: an earlier output holds something
            continue
        value = _json_output(raw) if typed else _ANY.decode(raw)
        processor_run[key] = value
        found = bool(value)


def _schema_presence(raw: msgspec.Raw) -> Any:
    """``config.schema`` as the tables ask of it: whether there is one. A non-empty
    object stands as True (its ~1.5 KB are not decoded for every run); anything else
    is decoded as it is."""
    try:
        keys = _KEYS.decode(raw)
    except msgspec.ValidationError:
        return _ANY.decode(raw)
    return True if keys else {}


def _json_output(raw: msgspec.Raw) -> Any:
    try:
        output = _JSON_OUTPUT.decode(raw)
    except msgspec.ValidationError:
        return _ANY.decode(raw)
    out: dict[str, Any] = {}
    if output.value is not msgspec.UNSET:
        out["value"] = output.value
    if output.metadata is not msgspec.UNSET:
        out["metadata"] = output.metadata
    return out
