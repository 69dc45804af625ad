"""The signature of a webhook delivery: ``X-Cytasks-Signature: sha256=<hex>``, the HMAC-SHA256
of ``"{timestamp}.{raw body}"`` keyed with the hook's secret, where ``timestamp`` is the
``X-Cytasks-Timestamp`` header (unix seconds), which must be within the hook's replay window.

The HMAC is checked before the window, and no refusal names the hook's settings: a caller
without the secret learns only which of its own headers is wrong."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TIMESTAMP_HEADER = "X-Cytasks-Timestamp"
SIGNATURE_HEADER = "X-Cytasks-Signature"
SCHEME = "sha256="


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender puts in ``X-Cytasks-Signature``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SCHEME + digest


class SignatureRefused(Exception):
    """Why a delivery's signature is not accepted (said to the sender as is), and the header at fault."""

    def __init__(self, message: str, header: str) -> None:
        super().__init__(message)
        self.header = header


def verify(secret: str, timestamp: str | None, signed: str | None, body: bytes, *, now: float, window: int) -> None:
    """Raise SignatureRefused unless ``signed`` signs ``body`` at ``timestamp``, within ``window``
    seconds of ``now``."""
    if not timestamp:
        raise SignatureRefused(f"the {TIMESTAMP_HEADER} header (unix seconds) is missing", TIMESTAMP_HEADER)
    if not signed:
        raise SignatureRefused(
            f"the {SIGNATURE_HEADER} header ({SCHEME}<hex HMAC-SHA256>) is missing", SIGNATURE_HEADER
        )
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be whole unix seconds", TIMESTAMP_HEADER)
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), signed.strip().lower().encode()):
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} does not match: expected {SCHEME}<hex HMAC-SHA256 of \"{{timestamp}}.{{body}}\" "
            "keyed with the hook's secret>",
            SIGNATURE_HEADER,
        )
    if abs(now - int(timestamp)) > window:
        raise SignatureRefused(f"the timestamp ({TIMESTAMP_HEADER}) is outside the replay window", TIMESTAMP_HEADER)
