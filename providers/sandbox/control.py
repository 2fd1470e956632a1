"""The control endpoint (/control/...): knobs, failure queue, time, records.

JSON in, JSON out. Not rate limited, never failure-injected and not counted
in the request statistics. When `control_token` is set, every call needs the
header `X-Sandbox-Token: <token>`.
"""

from __future__ import annotations

import hmac
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from providers.sandbox.config import PROTOCOLS, ConfigError
from providers.sandbox.http import Reply, Request, Router, json_reply
from providers.sandbox.protocols.base import iso_time
from providers.sandbox.state import Account, Order, Rental, SandboxError

if TYPE_CHECKING:
    from providers.sandbox.server import SandboxServer


def bad(message: str, status: int = 400) -> Reply:
    return json_reply(status, {"error": message})


class Control:
    prefix = "/control"

    def __init__(self, server: SandboxServer):
        self.server = server
        self.state = server.state
        self.router = Router()
        add = self.router.add
        add("GET", r"/?", self.index)
        add("GET", r"/health", self.health)
        add("GET", r"/config", self.get_config)
        add("POST", r"/config", self.set_config)
        add("GET", r"/fail", self.get_fail)
        add("POST", r"/fail", self.set_fail)
        add("GET", r"/clock", self.get_clock)
        add("POST", r"/clock", self.set_clock)
        add("POST", r"/reset", self.reset)
        add("GET", r"/stats", self.stats)
        add("GET", r"/accounts", self.get_accounts)
        add("POST", r"/accounts", self.set_account)
        add("GET", r"/orders", self.orders)
        add("POST", r"/orders/(?P<protocol>\w+)/(?P<id>[^/]+)/deliver", self.deliver)
        add("GET", r"/rentals", self.rentals)
        add("POST", r"/rentals/(?P<protocol>\w+)/(?P<id>[^/]+)/message", self.rental_message)

    def handle(self, request: Request) -> Reply:
        token = self.state.config.control_token
        if token and not hmac.compare_digest(request.header("X-Sandbox-Token"), token):
            return bad("Missing or wrong X-Sandbox-Token.", 401)
        found = self.router.match(request.method, request.path)
        if found is None:
            return bad("Unknown control endpoint.", 404)
        handler, params, _name = found
        request.params = params
        try:
            body = request.json() if request.method == "POST" else {}
        except ValueError:
            return bad("The body must be JSON.")
        if not isinstance(body, dict):
            return bad("The body must be a JSON object.")
        try:
            return handler(request, body)
        except ConfigError as exc:
            return bad(str(exc))

    # --- knobs --------------------------------------------------------------------------
    def index(self, request: Request, body: dict) -> Reply:
        return json_reply(
            200,
            {
                "sandbox": True,
                "base_url": request.base_url,
                "urls": self.server.urls(request.base_url),
            },
        )

    def health(self, request: Request, body: dict) -> Reply:
        return json_reply(200, {"ok": True, "now": self.state.now()})

    def get_config(self, request: Request, body: dict) -> Reply:
        return json_reply(200, self.state.config.to_dict())

    def set_config(self, request: Request, body: dict) -> Reply:
        with self.state.lock:
            self.state.config.update(body)
        return json_reply(200, self.state.config.to_dict())

    def get_fail(self, request: Request, body: dict) -> Reply:
        return json_reply(200, self.server.faults.snapshot())

    def set_fail(self, request: Request, body: dict) -> Reply:
        protocols = PROTOCOLS if body.get("protocol") == "all" else [body.get("protocol")]
        try:
            for protocol in protocols:
                self.server.faults.enqueue(
                    str(protocol),
                    str(body.get("mode")),
                    int(body.get("count", 1)),
                    endpoint=str(body.get("endpoint") or ""),
                )
        except (TypeError, ValueError) as exc:
            return bad(str(exc))
        return json_reply(200, self.server.faults.snapshot())

    def get_clock(self, request: Request, body: dict) -> Reply:
        return json_reply(200, self._clock())

    def set_clock(self, request: Request, body: dict) -> Reply:
        """{"advance": seconds of wall time}, or {"advance_upstream": upstream seconds}."""
        try:
            seconds = float(body.get("advance", 0))
            seconds += self.state.scaled(float(body.get("advance_upstream", 0)))
        except (TypeError, ValueError):
            return bad("advance takes a number of seconds.")
        with self.state.lock:
            self.state.clock.advance(seconds)
        return json_reply(200, self._clock())

    def _clock(self) -> dict[str, Any]:
        now = self.state.now()
        return {
            "now": now,
            "now_iso": iso_time(now),
            "offset": self.state.clock.offset,
            "time_scale": self.state.config.time_scale,
        }

    def reset(self, request: Request, body: dict) -> Reply:
        """Forget all accounts, orders, rentals, statistics and queued failures."""
        self.state.reset()
        self.server.faults.reset()
        self.server.limiter.reset()
        return json_reply(200, {"ok": True})

    # --- accounts -----------------------------------------------------------------------
    def get_accounts(self, request: Request, body: dict) -> Reply:
        protocol = request.query.get("protocol", "")
        api_key = request.query.get("api_key", "")
        with self.state.lock:
            accounts = [
                a
                for a in self.state.accounts.values()
                if (not protocol or a.protocol == protocol)
                and (not api_key or a.api_key == api_key)
            ]
            for account in accounts:
                self.state.settle_account(account)
            rows = [account_json(a, ledger=bool(api_key)) for a in accounts]
        if api_key and protocol:
            return json_reply(200, rows[0]) if rows else bad("No such account.", 404)
        return json_reply(200, rows)

    def set_account(self, request: Request, body: dict) -> Reply:
        """Open (any key) or update an account: {"protocol", "api_key", "balance"}."""
        protocol, api_key = body.get("protocol"), str(body.get("api_key") or "")
        if protocol not in PROTOCOLS or not api_key:
            return bad("protocol (one of " + ", ".join(PROTOCOLS) + ") and api_key are required.")
        try:
            balance = Decimal(str(body["balance"])) if "balance" in body else None
        except InvalidOperation:
            return bad('balance must be a decimal string such as "12.00".')
        with self.state.lock:
            account = self.state.accounts.get((protocol, api_key))
            if account is None:
                account = self.state.open_account(protocol, api_key, balance)
            elif balance is not None:
                self.state.settle_account(account)
                self.state.set_balance(account, balance)
            return json_reply(200, account_json(account, ledger=True))

    # --- orders and rentals -----------------------------------------------------------------
    def orders(self, request: Request, body: dict) -> Reply:
        protocol = request.query.get("protocol", "")
        api_key = request.query.get("api_key", "")
        with self.state.lock:
            found = [
                o
                for o in self.state.orders.values()
                if (not protocol or o.protocol == protocol)
                and (not api_key or o.api_key == api_key)
            ]
            now = self.state.now()
            for order in found:
                self.state.settle(order, now)
            rows = [order_json(o) for o in found]
        return json_reply(200, rows)

    def deliver(self, request: Request, body: dict) -> Reply:
        """Make an order's SMS arrive now (optionally with {"text": ...})."""
        with self.state.lock:
            order = self.state.orders.get((request.params["protocol"], request.params["id"]))
            if order is None:
                return bad("No such order.", 404)
            self.state.settle(order, self.state.now())
            try:
                self.state.deliver(order, text=str(body.get("text") or ""))
            except SandboxError:
                return bad(f"The order is {order.status}; nothing can arrive any more.", 409)
            return json_reply(200, order_json(order))

    def rentals(self, request: Request, body: dict) -> Reply:
        protocol = request.query.get("protocol", "")
        api_key = request.query.get("api_key", "")
        with self.state.lock:
            found = [
                r
                for r in self.state.rentals.values()
                if (not protocol or r.protocol == protocol)
                and (not api_key or r.api_key == api_key)
            ]
            now = self.state.now()
            for rental in found:
                self.state.settle_rental(rental, now)
            rows = [rental_json(r) for r in found]
        return json_reply(200, rows)

    def rental_message(self, request: Request, body: dict) -> Reply:
        """A message arrives on the rental now (even on a sleeping SMSPool line)."""
        with self.state.lock:
            rental = self.state.rentals.get((request.params["protocol"], request.params["id"]))
            if rental is None:
                return bad("No such rental.", 404)
            self.state.settle_rental(rental, self.state.now())
            try:
                self.state.rental_message(rental, text=str(body.get("text") or ""))
            except SandboxError:
                return bad(f"The rental is {rental.status}.", 409)
            return json_reply(200, rental_json(rental))

    # --- records --------------------------------------------------------------------------
    def stats(self, request: Request, body: dict) -> Reply:
        requests = self.state.stats.snapshot()
        totals = {
            protocol: {
                "requests": sum(e["requests"] for key in keys.values() for e in key.values()),
                "rate_limited": sum(
                    e["rate_limited"] for key in keys.values() for e in key.values()
                ),
            }
            for protocol, keys in requests.items()
        }
        with self.state.lock:
            now = self.state.now()
            for order in self.state.orders.values():
                self.state.settle(order, now)
            orders = [order_json(o) for o in self.state.orders.values()]
            accounts = [account_json(a) for a in self.state.accounts.values()]
        return json_reply(
            200,
            {
                "now": now,
                "requests": requests,
                "totals": totals,
                "failures": self.server.faults.snapshot(),
                "deliveries": delivery_summary(orders),
                "orders": orders,
                "accounts": accounts,
            },
        )


# --- JSON views -------------------------------------------------------------------------------
def account_json(account: Account, ledger: bool = False) -> dict[str, Any]:
    totals = account.totals()
    row: dict[str, Any] = {
        "protocol": account.protocol,
        "api_key": account.api_key,
        "currency": account.currency,
        "balance": str(account.balance),
        "initial_balance": str(account.initial_balance),
        "charges": str(totals["charges"]),
        "refunds": str(totals["refunds"]),
        "adjustments": str(totals["adjustments"]),
        "orders": len(account.orders),
        "open_orders": len(account.open_orders),
        "rentals": len(account.rentals),
    }
    if account.webhook.get("url"):  # SMSCode: where events are pushed (never the secret)
        row["webhook"] = {
            "url": account.webhook["url"],
            "consecutive_failures": account.webhook.get("failures", 0),
            "disabled_at": account.webhook.get("disabled_at"),
        }
    if ledger:
        row["ledger"] = [
            {"at": e.at, "kind": e.kind, "amount": str(e.amount), "ref": e.ref, "memo": e.memo}
            for e in account.ledger
        ]
    return row


def _messages(messages) -> list[dict[str, Any]]:
    return [
        {"text": m.text, "code": m.code, "delivered_at": m.delivered_at, "fetched_at": m.fetched_at}
        for m in messages
    ]


def order_json(order: Order) -> dict[str, Any]:
    first = order.messages[0] if order.messages else None
    return {
        "protocol": order.protocol,
        "order_id": order.id,
        "api_key": order.api_key,
        "service": order.service,
        "country": order.country,
        "phone": "+" + order.e164,
        "price": str(order.price),
        "status": order.status,
        "via": order.via,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "cancel_after": order.cancel_after,
        "deliver_at": order.deliver_at,
        "delivered_at": first.delivered_at if first else None,
        "fetched_at": first.fetched_at if first else None,
        "fetch_latency": (first.fetched_at - first.delivered_at)
        if first and first.fetched_at
        else None,
        "closed_at": order.closed_at,
        "refunded": str(order.refund_amount),
        "resent_to": order.resent_to or None,
        "resent_from": order.resent_from or None,
        "messages": _messages(order.messages),
    }


def rental_json(rental: Rental) -> dict[str, Any]:
    return {
        "protocol": rental.protocol,
        "rental_id": rental.id,
        "api_key": rental.api_key,
        "country": rental.country,
        "service": rental.service,
        "phone": "+" + rental.e164,
        "status": rental.status,
        "price": str(rental.price),
        "paid": str(rental.paid),
        "created_at": rental.created_at,
        "expires_at": rental.expires_at,
        "auto_extend": rental.auto_extend,
        "available_until": rental.available_until,
        "next_message_at": rental.next_message_at,
        "messages": _messages(rental.messages),
    }


def delivery_summary(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """How many codes arrived upstream, how many a client saw, and how late."""
    delivered = [o for o in orders if o["delivered_at"] is not None]
    latencies = sorted(o["fetch_latency"] for o in delivered if o["fetch_latency"] is not None)

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    return {
        "orders": len(orders),
        "delivered": len(delivered),
        "fetched": len(latencies),
        "latency_mean": sum(latencies) / len(latencies) if latencies else None,
        "latency_p50": pct(0.5),
        "latency_p95": pct(0.95),
        "latency_max": latencies[-1] if latencies else None,
    }
