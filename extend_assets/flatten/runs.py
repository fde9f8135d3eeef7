"""Reading one WorkflowRun: its processor outputs, the values to flatten, confidences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from extend_assets.flatten.infer import legacy_fields_schema, legacy_value

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True)
class SourceRef:
    """Where a run's document came from (from the submission ledger)."""

    bucket: str | None
    key: str | None
    etag: str | None
    partition: str | None
    batch_id: str | None
    source_id: str | None = None  # for raw-text sources: an upstream row id


@dataclass(frozen=True)
class Extraction:
    """The extracted values of a run and their per-path metadata entries.

    ``legacy`` holds the raw FieldsArray outputs, for schema inference.
    """

    value: Mapping[str, Any]
    metadata: Mapping[str, Any]
    legacy: tuple[Mapping[str, Any], ...] = ()


def final_output(processor_run: Mapping[str, Any]) -> Any:
    """The reviewed output when there is one, else ``output``, else ``initialOutput``."""
    reviewed = processor_run.get("reviewedOutput")
    if reviewed:
        return reviewed
    output = processor_run.get("output")
    return output if output else processor_run.get("initialOutput")


def processor_type(processor_run: Mapping[str, Any]) -> str | None:
    """``EXTRACT``, ``CLASSIFY`` or ``SPLITTER``: the run's ``type``, else guessed from
    the config or the output's shape."""
    kind = processor_run.get("type")
    if isinstance(kind, str):
        return kind
    config = processor_run.get("config")
    if isinstance(config, Mapping) and isinstance(config.get("type"), str):
        return str(config["type"])
    output = final_output(processor_run)
    if not isinstance(output, Mapping):
        return None
    if "splits" in output:
        return "SPLITTER"
    if "confidence" in output and "type" in output and "value" not in output:
        return "CLASSIFY"
    return "EXTRACT"


def processor_runs(run: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    outputs = run.get("outputs")
    return [o for o in outputs if isinstance(o, Mapping)] if isinstance(outputs, list) else []


def extraction(outputs: Sequence[Mapping[str, Any]]) -> Extraction | None:
    """The run's extracted values. With several EXTRACT processor runs, the first
    non-null value of each top-level field wins."""
    found: list[Extraction] = []
    for processor_run in outputs:
        if processor_type(processor_run) != "EXTRACT":
            continue
        read = read_extract_output(processor_run)
        if read is not None:
            found.append(read)
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    value: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for item in found:
        for key, field in item.value.items():
            if value.get(key) is None:
                value[key] = field
        for key, entry in item.metadata.items():
            metadata.setdefault(key, entry)
    legacy = tuple(output for item in found for output in item.legacy)
    return Extraction(value, metadata, legacy)


def read_extract_output(processor_run: Mapping[str, Any]) -> Extraction | None:
    output = final_output(processor_run)
    if not isinstance(output, Mapping):
        return None
    if is_json_output(output, processor_run.get("config")):
        value = output.get("value")
        metadata = output.get("metadata")
        return Extraction(
            value if isinstance(value, Mapping) else _EMPTY,
            metadata if isinstance(metadata, Mapping) else _EMPTY,
        )
    values: dict[str, Any] = {}
    confidences: dict[str, Any] = {}
    for name, field in output.items():
        if isinstance(field, Mapping):
            values[name] = legacy_value(field)
            confidences[name] = field
        else:
            values[name] = field
    return Extraction(values, confidences, (output,))


def is_json_output(output: Mapping[str, Any], config: Any) -> bool:
    """JsonOutput (``{value, metadata}``) rather than a legacy FieldsArray map. The
    processor's config decides when it says (``schema`` vs ``fields``)."""
    if isinstance(config, Mapping):
        if config.get("schema"):
            return True
        if config.get("fields"):
            return False
    return (
        "value" in output
        and set(output) <= {"value", "metadata"}
        and not _is_field_result(output.get("value"))
    )


def _is_field_result(value: Any) -> bool:
    return isinstance(value, Mapping) and "value" in value and "type" in value and "id" in value


def confidence(entry: Any) -> float | None:
    """A metadata entry's confidence: ``logprobsConfidence``, else ``ocrConfidence``,
    else ``reviewAgentScore / 5``; for legacy field results their ``confidence``."""
    if not isinstance(entry, Mapping):
        return None
    for key in ("logprobsConfidence", "ocrConfidence"):
        value = entry.get(key)
        if value is not None and not isinstance(value, bool) and isinstance(value, int | float):
            return float(value)
    score = entry.get("reviewAgentScore")
    if score is not None and not isinstance(score, bool) and isinstance(score, int | float):
        return float(score) / 5.0
    value = entry.get("confidence")
    if value is not None and not isinstance(value, bool) and isinstance(value, int | float):
        return float(value)
    return None


def classification(outputs: Sequence[Mapping[str, Any]]) -> tuple[Any, Any]:
    """(type, confidence) of the first CLASSIFY output, or (None, None)."""
    for processor_run in outputs:
        if processor_type(processor_run) == "CLASSIFY":
            output = final_output(processor_run)
            if isinstance(output, Mapping):
                return output.get("type"), output.get("confidence")
    return None, None


def extraction_schema(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON Schema of the run's EXTRACT processor (``config.schema``); for a legacy
    config (``config.fields``) an equivalent JSON Schema; None when there is neither."""
    for processor_run in processor_runs(run):
        if processor_type(processor_run) != "EXTRACT":
            continue
        config = processor_run.get("config")
        if not isinstance(config, Mapping):
            continue
        schema = config.get("schema")
        if isinstance(schema, Mapping) and schema:
            return schema
        fields = config.get("fields")
        if isinstance(fields, list) and fields:
            return legacy_fields_schema(fields)
    return None
