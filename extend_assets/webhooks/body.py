"""Large inline bodies, never held whole: read the envelope, re-encode the payload, stream it.

Extend sends the whole WorkflowRun inline unless the endpoint uses signed URLs, so a
body may be tens of MiB. The receiver spools a body above ``SPOOL_BYTES`` to a temp
file as it arrives (checking its signature chunk by chunk, see
:class:`~extend_assets.webhooks.signature.BodyVerifier`), then, with ijson's
event parser (C backend, constant memory):

- :func:`read_envelope` reads ``eventId``, ``eventType`` and the payload's top-level
  scalars (``id``, ``status``, ``batchId``...: all the receiver and the index need);
- :func:`write_payload` writes the payload back as JSON, scrubbed exactly as
  :func:`~extend_assets.webhooks.events.scrub` does, into the landed record's temp file,
  which the landing zone uploads as a stream (S3 multipart above 8 MiB).

Memory per request stays near ``SPOOL_BYTES`` plus the parser's buffers, whatever the size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import IO, Any

import ijson

from extend_assets.client.redact import redact_credentials
from extend_assets.webhooks.errors import EventError
from extend_assets.webhooks.events import (
    SECRET_KEYS,
    WebhookEvent,
    check_api_version,
    parse_event_fields,
)

SPOOL_BYTES = 1024 * 1024
"""Bodies up to this size are handled in memory; larger ones go through a temp file."""
_SCALARS = frozenset({"null", "boolean", "integer", "double", "number", "string"})


def read_envelope(source: IO[bytes], api_version: str) -> WebhookEvent:
    """The event of a spooled body; its payload holds only the top-level scalars and
    ``source`` is kept on the event to stream the whole payload when it lands.

    Reads the whole body once (so malformed JSON is refused here, before landing).
    """
    check_api_version(api_version)
    fields: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    payload_is_map: bool | None = None
    depth = 0
    key: str | None = None  # the envelope key being read
    inner: str | None = None  # the payload key being read
    for event, value in _events(source):
        if event == "start_map" or event == "start_array":
            if depth == 0 and event != "start_map":
                raise EventError("bad_envelope", "body is not a JSON object")
            if depth == 1 and key == "payload":
                payload_is_map = event == "start_map"
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
        elif depth > 2:
            continue  # the bulk of the payload: nothing to read there
        elif event == "map_key":
            if depth == 1:
                if value in fields or (value == "payload" and payload_is_map is not None):
                    raise EventError("bad_envelope", f"the envelope has {value!r} twice")
                key = value
            elif key == "payload":
                inner = value
        elif depth == 0:
            raise EventError("bad_envelope", "body is not a JSON object")
        elif depth == 1 and key is not None:
            fields[key] = _plain(value)
            if key == "payload":
                payload_is_map = False
        elif key == "payload" and payload_is_map and inner is not None:
            summary[inner] = _plain(value)
    if not payload_is_map:
        raise EventError("bad_envelope", "payload is missing or not an object")
    event_id, event_type = parse_event_fields(fields)
    return WebhookEvent(event_id, event_type, api_version, summary, source=source)


def write_payload(source: IO[bytes], out: IO[str]) -> None:
    """The body's ``payload``, scrubbed, as JSON text into ``out`` (one pass, no tree)."""
    events = _events(source)
    depth = 0
    key = None
    for event, value in events:  # find the payload (read_envelope checked there is one)
        if event == "start_map" or event == "start_array":
            if depth == 1 and key == "payload":
                break
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
        elif event == "map_key" and depth == 1:
            key = value
    buffer: list[str] = ["{"]
    arrays: list[bool] = [False]  # per open container: is it an array
    first = True  # the next item of the open container is its first
    skipping = -1  # >= 0: inside the value of a secret key (written as null)
    # json.dumps of a str, without its Python-level overhead (same output, ensure_ascii)
    quote, redact, secret_keys = encode_basestring_ascii, redact_credentials, SECRET_KEYS
    for event, value in events:
        if skipping >= 0:
            if event == "start_map" or event == "start_array":
                skipping += 1
            elif event == "end_map" or event == "end_array":
                skipping -= 1
            if skipping == 0:
                skipping = -1
            continue
        if event == "map_key":
            buffer.append(("" if first else ",") + quote(value) + ":")
            first = False
            if value in secret_keys:
                buffer.append("null")
                skipping = 0
            continue
        if event == "end_map" or event == "end_array":
            buffer.append("}" if event == "end_map" else "]")
            arrays.pop()
            first = False
            if not arrays:
                break
            continue
        if arrays[-1]:
            if not first:
                buffer.append(",")
            first = False
        if event == "start_map" or event == "start_array":
            buffer.append("{" if event == "start_map" else "[")
            arrays.append(event == "start_array")
            first = True
        elif event == "string":
            buffer.append(quote(redact(value) if "=" in value or "%3" in value else value))
        else:
            buffer.append(_scalar(event, value))
        if len(buffer) > 4096:
            out.write("".join(buffer))
            buffer.clear()
    out.write("".join(buffer))


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _scalar(event: str, value: Any) -> str:
    if event == "string":
        return json.dumps(redact_credentials(value))
    if event == "null":
        return "null"
    if event == "boolean":
        return "true" if value else "false"
    if isinstance(value, Decimal):  # a non-integer: the float json.loads would read
        return json.dumps(float(value))
    return json.dumps(value)


def _events(source: IO[bytes]) -> Iterator[tuple[str, Any]]:
    source.seek(0)
    try:
        yield from ijson.basic_parse(source)  # not use_float: it overflows above int64
    except (ijson.JSONError, UnicodeDecodeError, ValueError):
        raise EventError("malformed_json", "body is not JSON") from None
