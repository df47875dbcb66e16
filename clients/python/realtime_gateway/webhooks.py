"""Verifying the gateway's presence webhooks (docs/protocol.md, "Presence webhooks").

Each POST carries `Realtime-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
Verify against the raw body bytes (in Django: `request.body`), before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import List, Optional, Union

from .errors import RealtimeError

DEFAULT_TOLERANCE = 300  # seconds: the protocol's 5-minute replay window


class InvalidWebhookSignature(RealtimeError):
    """The header is missing or malformed, no v1 matches, or the timestamp is out of the window."""

    code = "invalid_signature"


def sign_webhook(body: bytes, secret: Union[str, bytes], timestamp: int) -> str:
    """The header value the gateway sends for this body at this time (for tests and tools)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook_signature(
    body: bytes,
    header: Optional[str],
    secret: Union[str, bytes],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: Optional[float] = None,
) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance` seconds of `now`
    (default: the clock); otherwise raises InvalidWebhookSignature (so an unchecked call
    cannot let a forged request through). Several `v1=` entries (a secret being rotated) are
    accepted when any matches. The comparison is constant-time (hmac.compare_digest)."""
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError("verify_webhook_signature: body must be the raw request bytes")
    if not secret:
        raise ValueError("verify_webhook_signature: secret must not be empty")
    if not header:
        raise InvalidWebhookSignature("no Realtime-Signature header", status=400)
    timestamp: Optional[int] = None
    signatures: List[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidWebhookSignature("malformed Realtime-Signature header", status=400)
        if key == "t":
            if not value.isascii() or not value.isdigit() or timestamp is not None:
                raise InvalidWebhookSignature("malformed timestamp in Realtime-Signature", status=400)
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhookSignature("Realtime-Signature needs t= and v1=", status=400)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidWebhookSignature(
            f"signature timestamp is more than {tolerance} s from now", status=400
        )
    expected = sign_webhook(bytes(body), secret, timestamp).split("v1=", 1)[1]
    # Check every candidate (no early exit), each comparison in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.encode("utf-8", "replace"))
    if not matched:
        raise InvalidWebhookSignature("signature does not match", status=400)
    return True
