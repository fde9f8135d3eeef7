"""The schema union's key-value cache: one key per write (SQLite's ``set_cursor_values``
drops new keys written together with existing ones), and no key-value store at all is
fine (dagster-cloud answers ``NotImplementedError``)."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance

from extend_assets.instance_store import WorkflowSchemaStore

RUNS = AssetKey(["t", "extend_workflow_runs"])


def schema(*fields: str) -> dict[str, Any]:
    return {"type": "object", "properties": {f: {"type": "string"} for f in fields}}


def test_each_workflow_keeps_its_union_and_a_new_field_is_added(instance: DagsterInstance) -> None:
    first = WorkflowSchemaStore(instance, "workflow_a", RUNS)
    first.merge([("extract", schema("invoice_number"))])
    WorkflowSchemaStore(instance, "workflow_b", RUNS).merge([("extract", schema("merchant"))])
    first.merge([("extract", schema("invoice_number", "due_date"))])
    assert list(WorkflowSchemaStore(instance, "workflow_a", RUNS).read().properties) == [
        "invoice_number",
        "due_date",
    ]
    assert list(WorkflowSchemaStore(instance, "workflow_b", RUNS).read().properties) == ["merchant"]


def test_without_a_key_value_store_the_union_is_what_the_runs_carry(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> Any:
        raise NotImplementedError

    monkeypatch.setattr(instance.run_storage, "get_cursor_values", refuse)
    monkeypatch.setattr(instance.run_storage, "set_cursor_values", refuse)
    union = WorkflowSchemaStore(instance, "workflow_a", RUNS).merge(
        [("extract", schema("invoice_number"))]
    )
    assert list(union.properties) == ["invoice_number"]
