"""Reading one WorkflowRun (either API version): its processor outputs, the values to
flatten, confidences.

The flatten layer reads the raw JSON of both versions and normalises here, so the
tables have the same columns and values whichever version produced a run:

- 2025-04-21 keeps processor results in ``outputs[]`` (``document_processor_run``s).
- 2026-02-09 keeps them in ``stepRuns[].result``: ``extractRun`` (steps ``EXTRACT``,
  ``MERGE_EXTRACT``, ``CONDITIONAL_EXTRACT``), ``classifyRun`` (``CLASSIFY``),
  ``splitRun`` (``SPLIT``). :func:`processor_runs` presents them as 2025-shaped views
  (``type`` ``EXTRACT`` / ``CLASSIFY`` / ``SPLITTER``), so the readers below are shared.
- Run fields renamed in 2026 (``workflowVersion.version``, ``reviewedByUser``) are
  read by :func:`workflow_version` and :func:`reviewed_by`.
- Rule-validation results of both versions: :func:`validation_results`.
"""

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
        return "SPLITTER" if kind == "SPLIT" else kind
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


#: 2026 step type → (result key, the 2025 processor type it flattens as).
STEP_PROCESSORS = {
    "EXTRACT": ("extractRun", "EXTRACT"),
    "MERGE_EXTRACT": ("extractRun", "EXTRACT"),
    "CONDITIONAL_EXTRACT": ("extractRun", "EXTRACT"),
    "CLASSIFY": ("classifyRun", "CLASSIFY"),
    "SPLIT": ("splitRun", "SPLITTER"),
    "SPLITTER": ("splitRun", "SPLITTER"),
}
_RESULT_TYPES = {"extractRun": "EXTRACT", "classifyRun": "CLASSIFY", "splitRun": "SPLITTER"}


def processor_runs(run: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The run's extraction, classification and split results as 2025-shaped processor
    runs: 2025 ``outputs[]`` as they are, 2026 step results as views."""
    outputs = run.get("outputs")
    if isinstance(outputs, list):
        return [o for o in outputs if isinstance(o, Mapping)]
    steps = run.get("stepRuns")
    if not isinstance(steps, list):
        return []
    views = []
    for step in steps:
        view = _step_processor_run(step) if isinstance(step, Mapping) else None
        if view is not None:
            views.append(view)
    return views


def _step_processor_run(step: Mapping[str, Any]) -> Mapping[str, Any] | None:
    result = step.get("result")
    if not isinstance(result, Mapping):
        return None
    inner = step.get("step")
    step_type = step.get("stepType") or (inner.get("type") if isinstance(inner, Mapping) else None)
    key, kind = STEP_PROCESSORS.get(str(step_type), (None, None))
    if key is None:  # an unknown step type holding a processor run
        key = next((k for k in _RESULT_TYPES if isinstance(result.get(k), Mapping)), None)
        kind = _RESULT_TYPES.get(key or "")
    found = result.get(key) if key else None
    if not isinstance(found, Mapping):
        return None
    file = found.get("file")
    return {**found, "type": kind, "stepType": step_type, "files": [file] if file else []}


def workflow_version(run: Mapping[str, Any]) -> Any:
    """The version label ("1", "draft"): 2025 ``workflow.version``, 2026
    ``workflowVersion.version``."""
    for outer in ("workflowVersion", "workflow"):
        value = run.get(outer)
        if isinstance(value, Mapping) and value.get("version") is not None:
            return value["version"]
    return None


def reviewed_by(run: Mapping[str, Any]) -> Any:
    """The reviewer: 2025 ``reviewedBy``, 2026 ``reviewedByUser``."""
    found = run.get("reviewedBy")
    return found if found is not None else run.get("reviewedByUser")


def validation_results(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each RULE_VALIDATION step of either version: ``{step_name, rules, all_passed}``
    (2025 ``stepRuns[].output.rules``; 2026 ``stepRuns[].result.rules/allPassed``)."""
    found = []
    for step in run.get("stepRuns") or []:
        if not isinstance(step, Mapping):
            continue
        inner = step.get("step")
        inner = inner if isinstance(inner, Mapping) else {}
        if (step.get("stepType") or inner.get("type")) != "RULE_VALIDATION":
            continue
        body = step.get("result") if "result" in step else step.get("output")
        body = body if isinstance(body, Mapping) else {}
        rules = [dict(r) for r in body.get("rules") or [] if isinstance(r, Mapping)]
        passed = body.get("allPassed")
        if not isinstance(passed, bool):
            passed = all(r.get("valid") is True for r in rules)
        found.append({"step_name": inner.get("name"), "rules": rules, "all_passed": passed})
    return found


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
