"""A warehouse that refuses one table: the test's deterministic step failure.

``EXTEND_IO_MANAGER=extend_assets_tests.deployment.failing_write:refuse_documents`` binds
the bundled DuckDB IO manager, except that storing ``extend_extracted_documents`` raises,
so the documents step fails after its work, as a warehouse outage would fail it.
"""

from __future__ import annotations

from typing import Any

from dagster import InputContext, IOManager, OutputContext

from extend_assets.definitions import duckdb_path
from extend_assets.io_manager import ExtendDuckDBIOManager

REFUSED = "extend_extracted_documents"


class _RefusingWrite(IOManager):
    """Delegates to the warehouse but refuses to store one asset."""

    def __init__(self, inner: IOManager, asset_name: str) -> None:
        self.inner, self.asset_name = inner, asset_name

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if context.has_asset_key and context.asset_key.path[-1] == self.asset_name:
            raise RuntimeError(f"test hook: the warehouse refused {self.asset_name}")
        self.inner.handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        return self.inner.load_input(context)


class RefusingDuckDBIOManager(ExtendDuckDBIOManager):
    """The bundled IO manager, refusing the documents table."""

    def create_io_manager(self, context: Any) -> Any:
        return _RefusingWrite(super().create_io_manager(context), REFUSED)


def refuse_documents() -> RefusingDuckDBIOManager:
    return RefusingDuckDBIOManager(database=duckdb_path())
