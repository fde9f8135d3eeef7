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

Each table step decodes less still (no splits table is built by an asset): the
line-items one without the files (:data:`line_items_view`), the documents one also
without what its columns never read (:func:`documents_view`): the line-items arrays
and their per-cell metadata entries (30 of the 47 of the benchmark's invoice run).

Anything of another shape (an output with other keys, a metadata entry that is not an
object, ``outputs`` that is not a list, JSON that msgspec refuses) is decoded whole,
as :func:`extend_assets.outputs.raw_reader.parse_line` does; so the tables get the
same rows, values and errors either way.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

from extend_assets.flatten.documents import fields_read
from extend_assets.outputs.raw_reader import parse_line
from extend_assets.outputs.schema_union import WorkflowSchema, path_head


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


class _ProcessorRunRead(TypedDict, total=False):
    """What the documents and line-items tables read of a processor run."""

    id: Any
    type: Any
    config: _Config | None
    edited: Any
    processorName: Any
    processorId: Any
    extractor: Any
    stepType: Any
    reviewedOutput: msgspec.Raw
    output: msgspec.Raw
    initialOutput: msgspec.Raw


class _ProcessorRun(_ProcessorRunRead, total=False):
    files: Any  # read by the splits only


class _RunRead(TypedDict, total=False):
    """What every table reads of a run, but its processor runs and files."""

    id: Any
    status: Any
    metadata: Any
    batchId: Any
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
    stepRuns: Any


class _Run(_RunRead, total=False):
    files: Any  # read by the splits only
    outputs: list[_ProcessorRun] | None


class _RunWithoutFiles(_RunRead, total=False):
    outputs: list[_ProcessorRunRead] | None


#: In the order :func:`extend_assets.flatten.runs.final_output` reads them.
OUTPUT_KEYS = ("reviewedOutput", "output", "initialOutput")

_RUN = msgspec.json.Decoder(_Run)
_RUN_WITHOUT_FILES = msgspec.json.Decoder(_RunWithoutFiles)
_JSON_OUTPUT = msgspec.json.Decoder(_JsonOutput)
_ANY = msgspec.json.Decoder()
_KEYS = msgspec.json.Decoder(dict[str, msgspec.Raw])


class TableView:
    """Decodes a raw run for the tables (see the module): ``run`` decodes the run and
    its processor runs, ``output`` an EXTRACT JsonOutput (``{value, metadata}``, no
    other key; it fails on another shape)."""

    def __init__(
        self,
        run: msgspec.json.Decoder[Any] = _RUN,
        output: msgspec.json.Decoder[Any] = _JSON_OUTPUT,
    ) -> None:
        self._run = run
        self._output = output

    def decode_run(self, line: bytes) -> Any:
        """The run on ``line`` with what the tables read; the whole run when its shape is
        unusual; raises like :func:`~extend_assets.outputs.raw_reader.parse_line` on bad JSON."""
        try:
            run: dict[str, Any] = self._run.decode(line)
            for processor_run in run.get("outputs") or ():
                self._decode_outputs(processor_run)
        except msgspec.MsgspecError:
            return parse_line(line)
        return run

    __call__ = decode_run

    def _decode_outputs(self, processor_run: dict[str, Any]) -> None:
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
            value = self._json_output(raw) if typed else _ANY.decode(raw)
            processor_run[key] = value
            found = bool(value)

    def _json_output(self, raw: msgspec.Raw) -> Any:
        try:
            output = self._output.decode(raw)
        except msgspec.ValidationError:
            return _ANY.decode(raw)
        out: dict[str, Any] = {}
        if output.value is not msgspec.UNSET:
            out["value"] = output.value
        if output.metadata is not msgspec.UNSET:
            out["metadata"] = output.metadata
        return out


#: The view of every table (the splits too): each JsonOutput's whole value and every
#: metadata entry, the files of the run and of each processor run.
table_view = TableView()
#: The line-items table's view: :data:`table_view` without the files.
line_items_view = TableView(_RUN_WITHOUT_FILES)


def _schema_presence(raw: msgspec.Raw) -> Any:
    """``config.schema`` as the tables ask of it: whether there is one. A non-empty
    object stands as True (its ~1.5 KB are not decoded for every run); anything else
    is decoded as it is."""
    try:
        keys = _KEYS.decode(raw)
    except msgspec.ValidationError:
        return _ANY.decode(raw)
    return True if keys else {}


def documents_view(schema: WorkflowSchema) -> TableView:
    """The view of the documents table under ``schema``: of each JsonOutput, only the
    value's top-level fields and the metadata entries that table reads
    (:func:`~extend_assets.flatten.documents.fields_read`, under their names before the
    union renamed them). The line-items arrays and their per-cell metadata entries, most
    of an invoice's output, are skipped, not decoded. Without a schema the columns come
    from the values, so the view is the whole one."""
    json_schema = schema.as_json_schema()
    if not json_schema:
        return table_view
    read_heads, read_paths = fields_read(json_schema)
    heads, paths = set(read_heads), set(read_paths)
    for renames in schema.renames.values():
        for original, renamed in renames.items():
            if renamed in heads:
                heads.add(original)
            paths.update(
                original + p[len(renamed) :] for p in list(paths) if path_head(p) == renamed
            )
    value = _typed_dict("_Value", dict.fromkeys(sorted(heads), Any))
    metadata = _typed_dict("_Metadata", dict.fromkeys(sorted(paths), _MetadataEntry))
    output = msgspec.defstruct(
        "_DocumentsOutput",
        [
            ("value", value | None | msgspec.UnsetType, msgspec.UNSET),
            ("metadata", metadata | None | msgspec.UnsetType, msgspec.UNSET),
        ],
        forbid_unknown_fields=True,
    )
    return TableView(_RUN_WITHOUT_FILES, msgspec.json.Decoder(output))


def _typed_dict(name: str, fields: dict[str, Any]) -> Any:
    """A TypedDict of these keys (any text: ``vendor.name``), all optional: msgspec
    decodes an object into a dict of these keys alone and skips the others unread."""
    return TypedDict(name, fields, total=False)  # type: ignore[operator]
