"""What every protocol app shares: routing, locking, the failure bodies."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from providers.sandbox.http import Reply, Request, Router, html_reply, json_reply, text_reply
from providers.sandbox.state import SandboxState

CENT = Decimal("0.01")

CLOUDFLARE_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><title>{title}</title></head>
<body><div id="cf-wrapper"><h1>{title}</h1>
<p>The web server reported an error. Please try again in a few minutes.</p>
<p>Ray ID: 8a1b2c3d4e5f6789 &bull; Performance &amp; security by Cloudflare</p>
</div></body></html>"""


class Refusal(Exception):
    """Raised by a handler's lookup (key, order, rental) to answer at once with `reply`."""

    def __init__(self, reply: Reply):
        super().__init__(reply.status)
        self.reply = reply


class Protocol:
    """One wire protocol mounted under `prefix`; subclasses fill `self.router`."""

    name = ""  # the protocol key used in config, stats and failure injection
    prefix = ""

    def __init__(self, state: SandboxState):
        self.state = state
        self.router = Router()
        self.setup_routes()

    def setup_routes(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop any background work (the server is stopping)."""

    # --- what the server asks before handling -----------------------------------
    def api_key(self, request: Request) -> str:
        """The caller's key, for rate limiting and statistics (may be unknown)."""
        raise NotImplementedError

    def endpoint(self, request: Request) -> str:
        return self.router.endpoint(request.method, request.path)

    def handle(self, request: Request) -> Reply:
        found = self.router.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params, _name = found
        request.params = params
        with self.state.lock:
            try:
                return handler(request)
            except Refusal as refusal:
                return refusal.reply

    # --- replies the server needs -------------------------------------------------
    def not_found(self, request: Request) -> Reply:
        return json_reply(404, {"error": "Not found"})

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        raise NotImplementedError

    def server_error(self, request: Request) -> Reply:
        return html_reply(500, CLOUDFLARE_PAGE.format(title="500 Internal Server Error"))

    def html_error(self, request: Request, status: int) -> Reply:
        title = (
            "Web server is returning an unknown error"
            if status == 200
            else "503 Service Unavailable"
        )
        return html_reply(status, CLOUDFLARE_PAGE.format(title=title))

    def malformed(self, request: Request) -> Reply:
        return Reply(200, b'{"success":1,"data":[{"id":1,"na', "application/json")

    def too_large(self, request: Request) -> Reply:
        return text_reply(413, "Request Entity Too Large")


# --- formatting helpers shared by the protocols -------------------------------------
def money2(value: Decimal) -> str:
    """USD as SMSPool writes it: "0.24"."""
    return str(value.quantize(CENT, ROUND_HALF_UP))


def iso_time(ts: float | None) -> str | None:
    """RFC 3339 in UTC with a Z, or None."""
    if ts is None:
        return None
    return _formatted(int(ts), "%Y-%m-%dT%H:%M:%SZ")


def plain_time(ts: float | None) -> str:
    """UTC as "YYYY-MM-DD HH:MM:SS", the format SMSPool and SMS-Activate use."""
    if ts is None:
        return ""
    return _formatted(int(ts), "%Y-%m-%d %H:%M:%S")


@lru_cache(maxsize=65536)
def _formatted(seconds: int, pattern: str) -> str:
    # Bulk lists format the same few timestamps on every poll; strftime was
    # half the cost of a 500-order request/active.
    return datetime.fromtimestamp(seconds, UTC).strftime(pattern)


def seconds_left(until: float, now: float) -> int:
    return max(0, math.ceil(until - now))


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
