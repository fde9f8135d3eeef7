"""``extend-assets dev --backfill``: fill the sample days through the UI's own GraphQL API.

Once ``dagster dev`` answers, one asset backfill of the submit job's assets over the
sample days is launched, exactly as the UI's "Materialize all" -> "Launch backfill"
does; the daemon runs it as one run (the assets' single-run backfill policy) and the
run-status sensor builds the tables as Extend's runs settle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests

# Answers a GraphQL query with its variables: the JSON ``data`` (or raises).
Post = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]

LAUNCH_BACKFILL = """
mutation LaunchBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

LOCATIONS = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace { locationEntries { name loadStatus } }
  }
}
"""


class BackfillNotLaunched(RuntimeError):
    """The UI answered, but refused the backfill (its message says why)."""


def graphql_over_http(base_url: str, timeout: float = 30.0) -> Post:
    """POST to ``{base_url}/graphql`` (the webserver the UI talks to)."""

    def post(query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        response = requests.post(
            f"{base_url}/graphql",
            json={"query": query, "variables": dict(variables)},
            timeout=timeout,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise BackfillNotLaunched(str(body["errors"][0].get("message")))
        return dict(body.get("data") or {})

    return post


def launch_backfill(
    post: Post, asset_keys: Sequence[Sequence[str]], partitions: Sequence[str]
) -> str:
    """Launch one asset backfill of ``asset_keys`` over ``partitions``; its id."""
    params = {
        "assetSelection": [{"path": list(key)} for key in asset_keys],
        "partitionNames": list(partitions),
        "fromFailure": False,
        "title": "extend-assets dev: the sample days",
    }
    data = post(LAUNCH_BACKFILL, {"backfillParams": params})
    result = data.get("launchPartitionBackfill") or {}
    if result.get("__typename") != "LaunchBackfillSuccess":
        raise BackfillNotLaunched(
            f"{result.get('__typename')}: {result.get('message', 'no message')}"
        )
    return str(result["backfillId"])


def locations_loaded(post: Post) -> bool:
    """True once the webserver answers and every code location has loaded."""
    workspace = post(LOCATIONS, {}).get("workspaceOrError") or {}
    entries = workspace.get("locationEntries") or []
    return bool(entries) and all(e.get("loadStatus") == "LOADED" for e in entries)


def launch_when_ready(
    post: Post,
    asset_keys: Sequence[Sequence[str]],
    partitions: Sequence[str],
    alive: Callable[[], bool],
    bound_seconds: float = 900.0,
    pause_seconds: float = 2.0,
) -> str | None:
    """Wait for the webserver and its code location, then launch once; None when
    ``dagster dev`` stopped first. ``bound_seconds`` only guards against a hang (a busy
    machine can take minutes to load the location)."""
    deadline = time.monotonic() + bound_seconds
    while alive():
        try:
            if locations_loaded(post):
                return launch_backfill(post, asset_keys, partitions)
        except (requests.RequestException, ValueError):
            pass  # not answering yet
        if time.monotonic() > deadline:
            raise BackfillNotLaunched(
                f"the UI did not load its code location within {bound_seconds:.0f} s"
            )
        time.sleep(pause_seconds)
    return None
