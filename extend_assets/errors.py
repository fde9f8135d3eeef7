"""Every error the pipeline raises for a person to act on, under one root.

Each message names the setting or input at fault and the fix. The HTTP client keeps its
own tree (:class:`extend_assets.client.ExtendError`), raised for what Extend answered.
This module imports nothing, so every layer may use it::

    ExtendAssetsError
    ├── ExtendAssetsConfigError      a factory / component option that cannot work
    │   └── PartitionSelectionError  prefix template and selection disagree
    ├── DocumentSourceError          S3: missing bucket, access denied, ...
    ├── SubmissionError              a submission Extend refused or did not confirm
    ├── ExtendSensorError            the sensor cannot go on until someone acts (auth, outage)
    ├── TableLockedError             another process holds the DuckDB file's write lock
    └── TableNameClashError          the DuckDB file is named like the schema
"""

from __future__ import annotations


class ExtendAssetsError(Exception):
    """The root of every error of the Dagster layer and the engine below it."""


class ExtendAssetsConfigError(ExtendAssetsError, ValueError):
    """An option that cannot work, named with its fix."""


class PartitionSelectionError(ExtendAssetsConfigError):
    """A partition-selection setting that cannot work, with the fix in the message."""


class DocumentSourceError(ExtendAssetsError, RuntimeError):
    """An S3 problem explained for a person: which bucket, what went wrong, what to do."""


class SubmissionError(ExtendAssetsError, RuntimeError):
    """A submission problem explained for a person: what, which document or field, the fix."""


class ExtendSensorError(ExtendAssetsError, RuntimeError):
    """The run-status sensor cannot do its job until someone acts: the tick fails."""


class TableLockedError(ExtendAssetsError, RuntimeError):
    """Another process holds the DuckDB file open for writing; names it and the fix."""


class TableNameClashError(ExtendAssetsError, ValueError):
    """The DuckDB file is named like a schema, which DuckDB cannot resolve."""


__all__ = [
    "DocumentSourceError",
    "ExtendAssetsConfigError",
    "ExtendAssetsError",
    "ExtendSensorError",
    "PartitionSelectionError",
    "SubmissionError",
    "TableLockedError",
    "TableNameClashError",
]
