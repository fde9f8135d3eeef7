"""The asset keys of one workflow: its name, then the asset's own name."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey


@dataclass(frozen=True)
class AssetKeys:
    source: AssetKey
    batches: AssetKey
    runs: AssetKey
    documents: AssetKey
    line_items: AssetKey

    @classmethod
    def for_workflow(cls, name: str) -> AssetKeys:
        return cls(
            source=AssetKey([name, "extend_source_documents"]),
            batches=AssetKey([name, "extend_workflow_batches"]),
            runs=AssetKey([name, "extend_workflow_runs"]),
            documents=AssetKey([name, "extend_extracted_documents"]),
            line_items=AssetKey([name, "extend_extracted_line_items"]),
        )

    def as_dict(self) -> dict[str, AssetKey]:
        return {
            "source": self.source,
            "batches": self.batches,
            "runs": self.runs,
            "documents": self.documents,
            "line_items": self.line_items,
        }
