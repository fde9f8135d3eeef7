"""The Extend resource: configuration only, with a client built on demand.

Like dagster-fivetran's and dagster-dbt cloud_v2's resources, this holds settings
(the key through ``EnvVar("EXTEND_API_KEY")``) and hands out a plain
:class:`~extend_assets.client.ExtendClient`; nothing talks to Extend until a step
or sensor asks for a client.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from extend_assets.client import ExtendClient

DEFAULT_BASE_URL = "https://api.extend.ai"
API_VERSION = "2025-04-21"


class ExtendResource(ConfigurableResource):
    """Connection settings for Extend's workflow-run API (version 2025-04-21)."""

    api_key: str = Field(
        description="Extend API key. Set it with EnvVar('EXTEND_API_KEY') so it never lands in config."
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API host; point it at the local emulator (EXTEND_BASE_URL) for offline runs.",
    )
    api_version: str = Field(default=API_VERSION, description="Sent as x-extend-api-version.")
    timeout: float = Field(default=60.0, description="Seconds to wait for one HTTP response.")
    max_retries: int = Field(default=5, description="Retries on 429, 5xx and connection errors.")
    requests_per_second: float = Field(
        default=10.0,
        description="Client-side request rate limit; match your plan (PAYG 10, Scale 25, Enterprise 75).",
    )
    workspace_id: str | None = Field(
        default=None, description="Sent as x-extend-workspace-id; needed with organization keys."
    )

    def get_client(self) -> ExtendClient:
        """A new client with its own pooled HTTP session; close it (or use ``with``) when done."""
        return ExtendClient(
            api_key=self.api_key,
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=self.timeout,
            max_retries=self.max_retries,
            requests_per_second=self.requests_per_second,
            workspace_id=self.workspace_id,
        )
