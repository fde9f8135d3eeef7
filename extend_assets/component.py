"""``ExtendWorkflowComponent``: one Extend workflow's assets, declared in a ``defs.yaml``.

Its attributes are :class:`~extend_assets.config.ExtendWorkflowConfig`'s options,
generated from it (never declared twice), minus ``partitions_def`` (Python only),
plus where the tables go (``database``) and which variable holds the API key::

    type: extend_assets.ExtendWorkflowComponent
    attributes:
      name: invoices
      workflow_id: workflow_...
      bucket: acme-documents
      prefix_template: invoices/{date}/
    requirements:
      env: [EXTEND_API_KEY]

``dg scaffold defs extend_assets.ExtendWorkflowComponent invoices --workflow-id ...
--bucket ...`` writes that file. Each instance binds its resources under its own keys
(``{name}_extend``, ``{name}_documents``, ``{name}_io_manager``), so several
workflows load side by side in one code location.

Your own IO manager and resources: set the key (``io_manager_key: warehouse``,
``extend_resource_key: extend`` ...) and define the resource elsewhere in the dg
project (e.g. ``defs/resources.py``); a key you set is yours to bind, and the component
binds nothing under it (except ``io_manager_key`` together with ``database``: the
bundled DuckDB under your key).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import dagster as dg
import yaml
from dagster.components.resolved.model import Resolver
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from extend_assets.config import ExtendWorkflowConfig

# Options a YAML file cannot express: Python objects only.
PYTHON_ONLY_OPTIONS = ("partitions_def",)
# Options whose Python type becomes a YAML-friendly one: (type, type in YAML or None).
_YAML_TYPES: dict[str, tuple[Any, Any]] = {
    "raw_text_source": (str | list[str] | None, None),
    # A template such as "{{ automation_condition.on_cron('0 6 * * *') }}".
    "automation_condition": (dg.AutomationCondition | None, str | None),
    "freshness_policy": (dg.FreshnessPolicy | None, str | None),
}
# Resource keys: unset means one key per instance, so instances never clash.
RESOURCE_KEY_OPTIONS = {
    "extend_resource_key": "extend",
    "source_resource_key": "documents",
    "io_manager_key": "io_manager",
}


def _option_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for option, info in ExtendWorkflowConfig.model_fields.items():
        if option in PYTHON_ONLY_OPTIONS:
            continue
        python_type, yaml_type = _YAML_TYPES.get(option, (info.annotation, None))
        description = info.description or ""
        kwargs: dict[str, Any] = {}
        if option in RESOURCE_KEY_OPTIONS:
            python_type = str | None
            kwargs["default"] = None
            description += (
                f" Unset: `{{name}}_{RESOURCE_KEY_OPTIONS[option]}`, one per component, so "
                "several workflows load side by side."
            )
        elif info.default_factory is not None:
            kwargs["default_factory"] = info.default_factory
        elif not info.is_required():
            kwargs["default"] = info.default
        resolver_kwargs: dict[str, Any] = {"description": description}
        if yaml_type is not None:
            resolver_kwargs["model_field_type"] = yaml_type
        annotation = Annotated[python_type, Resolver.default(**resolver_kwargs)]  # type: ignore[valid-type]
        fields[option] = (annotation, FieldInfo(description=description, **kwargs))
    return fields


class _OptionsBase(dg.Model):
    # automation_condition and freshness_policy hold Dagster objects.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


if TYPE_CHECKING:
    ExtendWorkflowOptions = _OptionsBase
else:
    ExtendWorkflowOptions = create_model(
        "ExtendWorkflowOptions", __base__=_OptionsBase, **_option_fields()
    )


class ExtendWorkflowScaffoldParams(BaseModel):
    """What ``dg scaffold defs extend_assets.ExtendWorkflowComponent NAME`` asks for."""

    workflow_id: str = Field(description="The Extend workflow to run (workflow_...).")
    bucket: str | None = Field(default=None, description="S3 bucket holding the documents.")
    prefix_template: str | None = Field(
        default=None, description="S3 prefix of a partition, with {date}."
    )
    start_date: str | None = Field(default=None, description="First daily partition, YYYY-MM-DD.")


class ExtendWorkflowScaffolder(dg.Scaffolder[ExtendWorkflowScaffoldParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[ExtendWorkflowScaffoldParams]:
        return ExtendWorkflowScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ExtendWorkflowScaffoldParams]) -> None:
        name = Path(request.target_path).name.replace("-", "_")
        params = request.params
        attributes: dict[str, Any] = {"name": name, "workflow_id": params.workflow_id}
        for option in ("bucket", "prefix_template", "start_date"):
            value = getattr(params, option)
            if value is not None:
                attributes[option] = value
        attributes["database"] = f"{name}_tables.duckdb"
        document = {
            "type": request.type_name,
            "attributes": attributes,
            "requirements": {"env": ["EXTEND_API_KEY"]},
        }
        Path(request.target_path).mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(document, sort_keys=False)
        (Path(request.target_path) / "defs.yaml").write_text(text)


@dg.scaffold_with(ExtendWorkflowScaffolder)
class ExtendWorkflowComponent(dg.Component, ExtendWorkflowOptions, dg.Resolvable):
    """An Extend workflow over an S3 bucket: assets, sensor, jobs and schedule, from YAML.

    Attributes are the options of :class:`~extend_assets.config.ExtendWorkflowConfig`
    (see the README's table), plus ``database`` and ``api_key_env_var``.
    """

    database: str = Field(
        default="extend_tables.duckdb",
        description="DuckDB file of the tables, relative to the project root (not named "
        "like `name`).",
    )
    api_key_env_var: str = Field(
        default="EXTEND_API_KEY",
        description="Environment variable holding the Extend API key (read at run time).",
    )

    def workflow_config(self) -> ExtendWorkflowConfig:
        """The validated options; a bad one raises ExtendAssetsConfigError naming it."""
        options = {
            option: getattr(self, option)
            for option in ExtendWorkflowConfig.model_fields
            if option not in PYTHON_ONLY_OPTIONS
        }
        name = options["name"]
        for option, suffix in RESOURCE_KEY_OPTIONS.items():
            options[option] = options[option] or f"{name}_{suffix}"
        return ExtendWorkflowConfig.build(**options)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from extend_assets.assets import build_extend_workflow_assets
        from extend_assets.io_manager import ExtendDuckDBIOManager
        from extend_assets.resources import ExtendResource, S3DocumentSource

        config = self.workflow_config()
        database = Path(self.database)
        if not database.is_absolute():
            database = Path(context.project_root) / database
        resources: dict[str, Any] = {
            config.extend_resource_key: ExtendResource(api_key=dg.EnvVar(self.api_key_env_var)),
            # A local S3 (AWS_ENDPOINT_URL set) wants path-style addresses.
            config.source_resource_key: S3DocumentSource(
                addressing_style="path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"
            ),
            config.io_manager_key: ExtendDuckDBIOManager(database=str(database)),
        }
        for option in self.user_bound_keys():
            resources.pop(getattr(config, option), None)
        return build_extend_workflow_assets(config).to_definitions(resources)

    def user_bound_keys(self) -> list[str]:
        """The resource-key options set in YAML: the project binds those resources."""
        chosen = [
            option
            for option in RESOURCE_KEY_OPTIONS
            if option in self.model_fields_set and getattr(self, option)
        ]
        if "database" in self.model_fields_set and "io_manager_key" in chosen:
            chosen.remove("io_manager_key")  # the bundled DuckDB, under the user's key
        return chosen
