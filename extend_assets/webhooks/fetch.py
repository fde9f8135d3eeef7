"""Fetch the real payload of a ``signed_data_url`` event: bounded in size and time.

The URL is a credential (valid 1 h): it is never logged or put in an error message;
errors show the host only.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from extend_assets.webhooks.errors import PayloadFetchError

DEFAULT_MAX_FETCH_BYTES = 64 * 1024 * 1024
DEFAULT_FETCH_TIMEOUT = 20.0  # seconds in all: Extend gives up on the delivery after 30 s


def fetch_signed_payload(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_FETCH_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    allow_http: bool = False,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """The JSON object behind ``url``; PayloadFetchError if it is too big, slow or not JSON."""
    parts = urlsplit(url)
    where = parts.hostname or "?"
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise PayloadFetchError(f"signed data URL on {where} is not https; refused")
    deadline = time.monotonic() + timeout
    http = session or requests.Session()
    try:
        with http.get(url, stream=True, timeout=(min(5.0, timeout), timeout)) as answer:
            if answer.status_code != 200:
                raise PayloadFetchError(
                    f"signed data URL on {where} answered HTTP {answer.status_code}"
                )
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PayloadFetchError(
                    f"signed data payload on {where} is {declared} bytes (limit {max_bytes})"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in answer.iter_content(chunk_size=256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadFetchError(
                        f"signed data payload on {where} is above {max_bytes} bytes"
                    )
                if time.monotonic() > deadline:
                    raise PayloadFetchError(f"signed data payload on {where} took over {timeout} s")
                chunks.append(chunk)
    except requests.RequestException as error:  # its text holds the URL: show the type only
        raise PayloadFetchError(
            f"fetching the signed data URL on {where} failed: {type(error).__name__}"
        ) from None
    finally:
        if session is None:
            http.close()
    try:
        payload = json.loads(b"".join(chunks))
    except ValueError:
        raise PayloadFetchError(f"signed data payload on {where} is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadFetchError(f"signed data payload on {where} is not a JSON object")
    return payload
