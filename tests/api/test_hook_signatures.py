"""The delivery signature scheme, checked against an HMAC computed independently here."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from api.services.hook_signatures import SignatureRefused, new_secret, signature, verify

SECRET = "whsec_test"
BODY = b'{"id": 1}'
NOW = 1_800_000_000.0


def expected(timestamp: str, body: bytes = BODY) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    assert signature(SECRET, "1800000000", BODY) == expected("1800000000")


def test_a_good_signature_within_the_window_passes_in_either_case() -> None:
    verify(SECRET, "1800000000", expected("1800000000"), BODY, now=NOW + 299, window=300)
    verify(SECRET, "1800000000", expected("1800000000").upper().replace("SHA256=", "sha256="), BODY, now=NOW, window=300)


@pytest.mark.parametrize(
    ("timestamp", "signed", "now", "message"),
    [
        (None, expected("1800000000"), NOW, "X-Cytasks-Timestamp header (unix seconds) is missing"),
        ("1800000000", None, NOW, "X-Cytasks-Signature header"),
        ("1800000000.5", expected("1800000000"), NOW, "whole unix seconds"),
        ("-5", expected("-5"), NOW, "whole unix seconds"),
        ("1800000000", expected("1800000000"), NOW + 301, "the timestamp (X-Cytasks-Timestamp) is outside the replay window"),
        ("1800000000", expected("1800000000"), NOW - 301, "the timestamp (X-Cytasks-Timestamp) is outside the replay window"),
        ("1800000000", expected("1800000001"), NOW, "does not match"),
        ("1800000000", "sha1=" + expected("1800000000")[7:], NOW, "does not match"),
    ],
)
def test_refusals_say_why(timestamp, signed, now, message) -> None:
    with pytest.raises(SignatureRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        verify(SECRET, timestamp, signed, BODY, now=now, window=300)


@pytest.mark.parametrize(
    ("timestamp", "signed", "header"),
    [
        (None, expected("1800000000"), "X-Cytasks-Timestamp"),
        ("1800000000", None, "X-Cytasks-Signature"),
        ("soon", expected("soon"), "X-Cytasks-Timestamp"),
        ("1800000000", expected("1800000001"), "X-Cytasks-Signature"),
    ],
)
def test_each_refusal_names_its_header(timestamp, signed, header) -> None:
    with pytest.raises(SignatureRefused) as refused:
        verify(SECRET, timestamp, signed, BODY, now=NOW, window=300)
    assert refused.value.header == header


def test_the_window_is_not_named_and_is_checked_only_after_the_hmac() -> None:
    stale = "1799990000"
    with pytest.raises(SignatureRefused) as stale_good:
        verify(SECRET, stale, expected(stale), BODY, now=NOW, window=1234)
    assert "1234" not in str(stale_good.value) and str(NOW - int(stale)) not in str(stale_good.value)
    # Without the secret a caller cannot learn the window: a forged stale delivery only "does not match".
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SECRET, stale, "sha256=" + "0" * 64, BODY, now=NOW, window=1234)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(SECRET, "1800000000", expected("1800000000"), b'{"id": 2}', now=NOW, window=300)


def test_secrets_are_random_and_long() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20 and all(len(secret) > 40 for secret in secrets)
