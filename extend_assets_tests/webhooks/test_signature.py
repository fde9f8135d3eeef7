"""Signature verification: the reference scheme, rotation, the replay window, no leaks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from extend_assets.emulator.webhooks import sign as emulator_sign
from extend_assets.webhooks.errors import SignatureError
from extend_assets.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Secrets,
    sign,
    signed_headers,
    verify,
)

BODY = b'{"eventId":"event_1","eventType":"workflow_run.completed","payload":{}}'
NOW = 1_800_000_000


def test_scheme_is_hex_hmac_sha256_over_v0_timestamp_body() -> None:
    expected = hmac.new(b"wss_a", b"v0:1700000000:" + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "wss_a", 1700000000) == expected
    assert emulator_sign(BODY, "wss_a", 1700000000) == expected  # the sender agrees


def test_a_valid_signature_returns_the_timestamp_header_names_in_any_case() -> None:
    headers = {k.upper(): v for k, v in signed_headers(BODY, "wss_a", NOW).items()}
    assert verify(BODY, headers, "wss_a", now=NOW) == NOW


def test_upper_case_hex_is_refused_as_the_sdk_does() -> None:
    headers = signed_headers(BODY, "wss_a", NOW)
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].upper()
    with pytest.raises(SignatureError):
        verify(BODY, headers, "wss_a", now=NOW)


@pytest.mark.parametrize("offset", [-300, 0, 60])
def test_the_window_is_300_seconds_past_inclusive_and_60_ahead(offset: int) -> None:
    assert verify(BODY, signed_headers(BODY, "wss_a", NOW + offset), "wss_a", now=NOW + 0.9)


@pytest.mark.parametrize(
    ("offset", "reason"), [(-301, "stale_timestamp"), (61, "future_timestamp")]
)
def test_outside_the_window_is_refused(offset: int, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(BODY, signed_headers(BODY, "wss_a", NOW + offset), "wss_a", now=NOW)
    assert caught.value.reason == reason


def test_an_old_signature_replayed_with_a_fresh_timestamp_is_refused() -> None:
    old = signed_headers(BODY, "wss_a", NOW - 3600)
    replay = {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: old[SIGNATURE_HEADER]}
    with pytest.raises(SignatureError) as caught:
        verify(BODY, replay, "wss_a", now=NOW)
    assert caught.value.reason == "bad_signature"


def test_a_changed_body_or_wrong_secret_is_refused() -> None:
    headers = signed_headers(BODY, "wss_a", NOW)
    for body, secret in [(BODY + b" ", "wss_a"), (BODY, "wss_b")]:
        with pytest.raises(SignatureError) as caught:
            verify(body, headers, secret, now=NOW)
        assert caught.value.reason == "bad_signature"


def test_every_secret_of_a_rotation_is_accepted() -> None:
    secrets = Secrets.parse("wss_old, wss_new")
    for secret in ("wss_old", "wss_new"):
        assert verify(BODY, signed_headers(BODY, secret, NOW), secrets, now=NOW) == NOW
    with pytest.raises(SignatureError):
        verify(BODY, signed_headers(BODY, "wss_other", NOW), secrets, now=NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({TIMESTAMP_HEADER: str(NOW)}, "missing_signature"),
        ({TIMESTAMP_HEADER: "soon", SIGNATURE_HEADER: "ab" * 32}, "malformed_signature"),
        ({TIMESTAMP_HEADER: "\u00b2", SIGNATURE_HEADER: "ab" * 32}, "malformed_signature"),
        ({TIMESTAMP_HEADER: "-5", SIGNATURE_HEADER: "ab" * 32}, "stale_timestamp"),
        ({TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "v0=abc"}, "bad_signature"),
        ({TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "\u00e9" * 64}, "malformed_signature"),
    ],
)
def test_missing_or_malformed_headers_are_refused(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(BODY, headers, "wss_a", now=NOW)
    assert caught.value.reason == reason


def test_secrets_never_show_in_reprs_or_errors() -> None:
    secrets = Secrets(["wss_hidden_1", "wss_hidden_2"])
    assert "wss_hidden" not in repr(secrets) + str(secrets)
    with pytest.raises(SignatureError) as caught:
        verify(BODY, signed_headers(BODY, "x", NOW), secrets, now=NOW)
    assert "wss_hidden" not in str(caught.value) + repr(caught.value)


def test_no_secret_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        Secrets.parse(" , ")


def test_the_timestamp_is_signed_as_sent_and_the_first_value_counts() -> None:
    padded = "0" + str(NOW)
    headers: dict[str, object] = {
        TIMESTAMP_HEADER: padded,
        SIGNATURE_HEADER: [sign(BODY, "wss_a", padded), "ab" * 32],
    }
    assert verify(BODY, headers, "wss_a", now=NOW) == NOW  # type: ignore[arg-type]
    headers[SIGNATURE_HEADER] = ["ab" * 32, sign(BODY, "wss_a", padded)]
    with pytest.raises(SignatureError):
        verify(BODY, headers, "wss_a", now=NOW)  # type: ignore[arg-type]


def test_a_body_that_is_not_utf8_is_refused() -> None:
    body = b'{"x":"\xff"}'
    with pytest.raises(SignatureError) as caught:
        verify(body, signed_headers(body, "wss_a", NOW), "wss_a", now=NOW)
    assert caught.value.reason == "malformed_signature"
