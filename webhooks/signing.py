"""The webhook signature: HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret.

Header: `Smsdesk-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver recomputes
the digest over the raw body it received and the `t` value, compares in constant
time and refuses a `t` too far from its clock (docs/API.md has the snippet).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Smsdesk-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
