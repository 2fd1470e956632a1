"""SMSCode's REST API under /smscode/v1 (IDR) and /smscode/v2 (USD projection), and
the order events it pushes to a registered webhook (WebhookPusher).

Two dialects, chosen per API key by `config.dialect("smscode", key)`:

"sdk" (the default) follows smscode-wire-facts.md: the {success, data |
error{code, message}} envelope, int ids, upper-case statuses, every can_* and
*_available_at key on every order view, /v2 money objects with meta.fx,
idempotency-key replay, 409 CANCEL_TOO_EARLY / CONFLICT, Retry-After on 429.
It also serves the integration guide's forms: POST /v1/orders to create (with
{country_id, platform_id}: cheapest match) and DELETE /v1/orders/{id}.

"guide" plays a host that speaks only what smscode-api-integration-guide.txt
documents: /v1/balance, /v1/catalog/countries ({country_id, name}),
/v1/catalog/products?country_id= (one row per country and platform with
available_count, sold-out pairs listed at 0), POST /v1/orders
{country_id, platform_id} answering a flat {order_id, phone_number, status,
expires_at} with a string order id, GET /v1/orders/{id} with lower-case
statuses (pending, active, completed once the code is there, expired,
cancelled), DELETE /v1/orders/{id}, and the guide's error codes
(INVALID_PARAMETERS, PRODUCT_UNAVAILABLE, INSUFFICIENT_BALANCE,
ORDER_NOT_FOUND, RATE_LIMIT_EXCEEDED). Every other path, /v2 included, is 404.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
import math
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from hashlib import sha256
from typing import Any

from providers.sandbox import catalog
from providers.sandbox.http import Reply, Request, Router, json_reply
from providers.sandbox.protocols.base import Protocol, iso_time, retry_after_header
from providers.sandbox.state import (
    CANCELLED,
    EXPIRED,
    FINISHED,
    RECEIVED,
    WAITING,
    Account,
    Order,
    SandboxError,
)

P = "smscode"
V = r"/(?P<v>v1|v2)"
GUIDE_V = r"/(?P<v>v1)"  # the guide knows /v1 only
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
CREATE_FIELDS = {
    "product_id",
    "catalog_product_id",
    "max_price",
    "min_price",
    "prefer_provider",
    "policy",
    "operator_id",
    "quantity",
    "country_id",  # the guide's create body
    "platform_id",
}
ROUTED_ONLY = {"max_price", "min_price", "prefer_provider", "policy", "operator_id"}
SORTS = {
    "price_asc": (lambda t: (t[2].price, t[2].product_id), False),
    "price_desc": (lambda t: (t[2].price, t[2].product_id), True),
    "available_asc": (lambda t: (t[2].available, t[2].product_id), False),
    "available_desc": (lambda t: (t[2].available, t[2].product_id), True),
    "name_asc": (lambda t: (t[0].name, t[1].name, t[2].product_id), False),
    "name_desc": (lambda t: (t[0].name, t[1].name, t[2].product_id), True),
}


def ok(data: Any, meta: dict[str, Any] | None = None, status: int = 200) -> Reply:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta:
        body["meta"] = meta
    return json_reply(status, body)


def err(status: int, code: str, message: str, details: dict | None = None, headers=None) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_reply(status, {"success": False, "error": error}, headers)


class SmsCode(Protocol):
    name = P
    prefix = "/smscode"

    def __init__(self, state) -> None:
        super().__init__(state)
        self.pusher = WebhookPusher(self)
        state.order_listeners.append(self.pusher.on_order)

    def close(self) -> None:
        self.pusher.close()

    def setup_routes(self) -> None:
        add = self.router.add
        add("GET", V + r"/balance", self.balance, "/balance")
        add("GET", V + r"/catalog/countries", self.countries, "/catalog/countries")
        add("GET", V + r"/catalog/services", self.services, "/catalog/services")
        add("GET", V + r"/catalog/products", self.products, "/catalog/products")
        add("GET", V + r"/catalog/operators", self.operators, "/catalog/operators")
        add("GET", V + r"/catalog/exchange-rate", self.exchange_rate, "/catalog/exchange-rate")
        add("GET", V + r"/orders", self.list_orders, "/orders")
        add("GET", V + r"/orders/active", self.active, "/orders/active")
        add("POST", V + r"/orders/create", self.create, "/orders/create")
        add("POST", V + r"/orders", self.create_alias, "POST /orders")
        add("POST", V + r"/orders/cancel", self.cancel, "/orders/cancel")
        add("POST", V + r"/orders/finish", self.finish, "/orders/finish")
        add("POST", V + r"/orders/resend", self.resend, "/orders/resend")
        add("POST", V + r"/orders/reactivate", self.reactivate, "/orders/reactivate")
        add(
            "GET",
            V + r"/orders/(?P<id>[^/]+)/reactivate-options",
            self.reactivate_options,
            "/orders/{id}/reactivate-options",
        )
        add("GET", V + r"/orders/(?P<id>[^/]+)", self.get_order, "/orders/{id}")
        add("DELETE", V + r"/orders/(?P<id>[^/]+)", self.cancel_alias, "DELETE /orders/{id}")
        add("GET", V + r"/webhook", self.webhook, "/webhook")
        add("PATCH", V + r"/webhook", self.webhook_update, "PATCH /webhook")
        add("POST", V + r"/webhook/test", self.webhook_test, "/webhook/test")
        self.guide_router = Router()
        guide = self.guide_router.add
        guide("GET", GUIDE_V + r"/balance", self.balance, "/balance")
        guide("GET", GUIDE_V + r"/catalog/countries", self.guide_countries, "/catalog/countries")
        guide("GET", GUIDE_V + r"/catalog/products", self.guide_products, "/catalog/products")
        guide("POST", GUIDE_V + r"/orders", self.guide_create, "POST /orders")
        guide("GET", GUIDE_V + r"/orders/(?P<id>[^/]+)", self.guide_order, "/orders/{id}")
        guide(
            "DELETE", GUIDE_V + r"/orders/(?P<id>[^/]+)", self.guide_cancel, "DELETE /orders/{id}"
        )

    def api_key(self, request: Request) -> str:
        return request.bearer()

    def router_for(self, request: Request) -> Router:
        """The routes of the dialect the caller's key is served in."""
        guide = self.state.config.dialect(P, self.api_key(request)) == "guide"
        return self.guide_router if guide else self.router

    def endpoint(self, request: Request) -> str:
        # A guide key asking for an SDK path is counted under that path's name.
        name = self.router_for(request).endpoint(request.method, request.path)
        return name if name != "?" else self.router.endpoint(request.method, request.path)

    def handle(self, request: Request) -> Reply:
        found = self.router_for(request).match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params, _name = found
        request.params = params
        with self.state.lock:
            account = self.state.account(P, self.api_key(request))
            if account is None:
                reply = err(401, "UNAUTHORIZED", "Missing or invalid API token.")
            else:
                if account.webhook.get("url"):
                    self.pusher.start()  # e.g. a webhook from a loaded state file
                reply = handler(request, account)
        # The SDK attaches X-Request-Id to results and errors when it is present.
        reply.headers.setdefault("X-Request-Id", uuid.uuid4().hex)
        return reply

    def not_found(self, request: Request) -> Reply:
        return err(404, "NOT_FOUND", "Route not found.")

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        return err(
            429,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests: the limit is 300 per minute per token.",
            headers=retry_after_header(retry_after),
        )

    def server_error(self, request: Request) -> Reply:
        return err(500, "INTERNAL_ERROR", "An unexpected error occurred.")

    def malformed(self, request: Request) -> Reply:
        return Reply(200, b'{"success":true,"data":{"id":50001,"status":"ACT', "application/json")

    # --- money ------------------------------------------------------------------------
    @property
    def rate(self) -> int:
        return int(self.state.config.smscode_fx_rate)

    def money(self, request: Request, idr: int | Decimal, places: int = 4) -> Any:
        """v1: whole rupiah as an int; v2: a USD money object over the IDR value."""
        idr = int(idr)
        if request.params["v"] == "v1":
            return idr
        usd = (Decimal(idr) / self.rate).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        return {
            "amount": str(usd),
            "currency": "USD",
            "canonical_amount": idr,
            "canonical_currency": "IDR",
        }

    def fx(self, request: Request, meta: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """meta with the FX receipt on /v2 (and `meta` unchanged on /v1)."""
        if request.params["v"] == "v1":
            return meta
        return {**(meta or {}), "fx": self.fx_object()}

    def fx_object(self) -> dict[str, Any]:
        as_of = math.floor(self.state.now() / 3600) * 3600  # rates refresh hourly
        return {"pair": "USD/IDR", "rate": self.rate, "rate_as_of": iso_time(as_of)}

    def _price_input(self, request: Request, raw: Any, rounding: str) -> int | None:
        """max_price/min_price: IDR int on v1, USD string on v2 (floor/ceil to IDR)."""
        if raw is None:
            return None
        if request.params["v"] == "v1":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError
            return raw
        if not isinstance(raw, str):
            raise ValueError
        return int((Decimal(raw) * self.rate).to_integral_value(rounding))

    # --- order views ------------------------------------------------------------------
    def status_word(self, order: Order) -> str:
        if order.status == WAITING:
            return "ACTIVE"
        if order.status == RECEIVED:
            # After a resend the order reads ACTIVE again until the next SMS.
            return "ACTIVE" if order.retry_pending else "OTP_RECEIVED"
        return {FINISHED: "COMPLETED", CANCELLED: "CANCELED", EXPIRED: "EXPIRED"}.get(
            order.status, "COMPLETED"
        )

    def capabilities(self, order: Order) -> dict[str, Any]:
        now = self.state.now()
        has_sms = bool(order.messages)
        cooldown = order.resend_available_at if (order.resend_available_at or 0) > now else None
        can_cancel = order.status == WAITING and now >= order.cancel_after
        locked = order.status == WAITING and now < order.cancel_after
        cancel_at = iso_time(order.cancel_after) if locked else None
        return {
            "can_finish": has_sms and order.is_open,
            "can_resend": has_sms and order.is_open and now < order.expires_at and cooldown is None,
            "can_cancel": can_cancel,
            "can_replace": can_cancel,
            "can_reactivate": order.status == FINISHED and has_sms,
            "resend_available_at": iso_time(cooldown),
            "cancel_available_at": cancel_at,
            "replace_available_at": cancel_at,
        }

    def _operator(self, order: Order) -> tuple[int | None, str | None]:
        tier = catalog.smscode_tiers_by_id().get(order.product_id or 0)
        return (tier.operator_id, tier.operator_name) if tier else (None, None)

    def _otp(self, order: Order) -> dict[str, Any]:
        if order.messages:
            self.state.mark_fetched(order)
        last = order.last_message
        return {
            "otp_code": order.code or None,
            "otp_message": last.text if last else None,
            "sms_revision": len(order.messages),
            "otp_received_at": iso_time(order.messages[0].delivered_at) if order.messages else None,
        }

    def full_view(self, request: Request, order: Order) -> dict[str, Any]:
        operator_id, operator_name = self._operator(order)
        return {
            "id": int(order.id),
            "status": self.status_word(order),
            "created_at": iso_time(order.created_at),
            "product_id": order.product_id,
            "catalog_product_id": order.catalog_product_id,
            "operator_id": operator_id,
            "operator_name": operator_name,
            "phone_number": "+" + order.e164,
            "amount": self.money(request, order.price),
            **self._otp(order),
            "expires_at": iso_time(order.expires_at),
            "canceled_at": iso_time(order.closed_at) if order.status == CANCELLED else None,
            "failed_reason": None,
            **self.capabilities(order),
        }

    def active_view(self, order: Order) -> dict[str, Any]:
        operator_id, operator_name = self._operator(order)
        return {
            "id": int(order.id),
            "status": self.status_word(order),
            **self._otp(order),
            "expires_at": iso_time(order.expires_at),
            "failed_reason": None,
            "operator_id": operator_id,
            "operator_name": operator_name,
            **self.capabilities(order),
        }

    def created_view(self, request: Request, order: Order) -> dict[str, Any]:
        operator_id, operator_name = self._operator(order)
        return {
            "id": int(order.id),
            "status": self.status_word(order),
            "phone_number": "+" + order.e164,
            "otp_code": None,
            "otp_received_at": None,
            "expires_at": iso_time(order.expires_at),
            "failed_reason": None,
            "product_id": order.product_id,
            "catalog_product_id": order.catalog_product_id,
            "operator_id": operator_id,
            "operator_name": operator_name,
            "amount": self.money(request, order.price),
            **self.capabilities(order),
        }

    # --- account and catalog ------------------------------------------------------------
    def balance(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        if request.params["v"] == "v1":
            return ok({"currency": "IDR", "balance": int(account.balance)})
        return ok({"balance": self.money(request, account.balance, places=2)}, self.fx(request))

    def countries(self, request: Request, account: Account) -> Reply:
        rows = [
            {
                "id": c.smscode_id,
                "code": c.iso.lower(),
                "name": c.name,
                "dial_code": c.dial,
                "emoji": c.emoji,
                "active": True,
            }
            for c in sorted(catalog.COUNTRIES, key=lambda c: c.smscode_id or 0)
            if c.smscode_id is not None
        ]
        return ok(rows)

    def _int_query(self, request: Request, name: str) -> int | None:
        raw = request.query.get(name, "").strip()
        if raw == "":
            return None
        if not raw.lstrip("-").isdigit():
            raise ValueError(name)
        return int(raw)

    def services(self, request: Request, account: Account) -> Reply:
        try:
            country_id = self._int_query(request, "country_id")
        except ValueError:
            return err(422, "VALIDATION_ERROR", "country_id must be an integer.")
        country = catalog.smscode_country(country_id) if country_id is not None else None
        in_stock = {
            slug
            for (slug, iso), offer in catalog.offers(P).items()
            if country is None or (iso == country.iso and self._tier_stock(iso, offer.tiers[0]) > 0)
        }
        if country_id is not None and country is None:
            in_stock = set()
        rows = [
            {"id": s.smscode_platform_id, "code": s.slug, "name": s.name, "active": True}
            for s in catalog.SERVICES
            if s.smscode_platform_id is not None and s.slug in in_stock
        ]
        return ok(rows)

    def _tier_stock(self, iso: str, tier: catalog.Tier) -> int:
        return 0 if self.state.config.is_out_of_stock(P, iso) else tier.available

    def products(self, request: Request, account: Account) -> Reply:
        try:
            country_id = self._int_query(request, "country_id")
            platform_id = self._int_query(request, "platform_id")
            operator_id = self._int_query(request, "operator_id")
            limit = self._int_query(request, "limit") or 1000
            page = self._int_query(request, "page") or 1
        except ValueError as exc:
            return err(422, "VALIDATION_ERROR", f"{exc} must be an integer.")
        if not (1 <= limit <= 10000) or page < 1:
            return err(422, "VALIDATION_ERROR", "limit must be 1-10000 and page at least 1.")
        rows = []
        for (slug, iso), offer in catalog.offers(P).items():
            service, country = catalog.SERVICE_BY_SLUG[slug], catalog.COUNTRY_BY_ISO[iso]
            if country_id is not None and country.smscode_id != country_id:
                continue
            if platform_id is not None and service.smscode_platform_id != platform_id:
                continue
            for tier in offer.tiers:
                if operator_id is not None and tier.operator_id != operator_id:
                    continue
                if self._tier_stock(iso, tier) > 0:
                    rows.append((service, country, tier))
        key, reverse = SORTS.get(request.query.get("sort", ""), SORTS["price_asc"])
        rows.sort(key=key, reverse=reverse)
        window = rows[(page - 1) * limit : page * limit]
        data = [self._product(request, s, c, t) for s, c, t in window]
        return ok(data, self.fx(request, {"page": page, "limit": limit, "count": len(rows)}))

    def _product(self, request: Request, service, country, tier: catalog.Tier) -> dict[str, Any]:
        return {
            "id": tier.product_id,
            "name": f"{service.name} - {country.name}",
            "country_id": country.smscode_id,
            "platform_id": service.smscode_platform_id,
            "available": tier.available,
            "available_count": tier.available,
            "price": self.money(request, tier.price),
            "active": True,
            "catalog_product_id": tier.catalog_product_id,
            "operator_id": tier.operator_id,
            "operator_name": tier.operator_name,
        }

    def operators(self, request: Request, account: Account) -> Reply:
        try:
            country_id = self._int_query(request, "country_id")
            platform_id = self._int_query(request, "platform_id")
        except ValueError:
            return err(422, "VALIDATION_ERROR", "country_id and platform_id must be integers.")
        if country_id is None or platform_id is None:
            return err(422, "VALIDATION_ERROR", "country_id and platform_id are both required.")
        country, service = (
            catalog.smscode_country(country_id),
            catalog.smscode_platform(platform_id),
        )
        offer = catalog.offer(P, service.slug, country.iso) if country and service else None
        rows = []
        for tier in offer.tiers if offer else ():
            if self._tier_stock(offer.country, tier) <= 0:
                continue
            if tier.operator_id is None:
                rows.insert(
                    0, {"operator_id": None, "code": "any", "name": None, "local_name": None}
                )
            else:
                rows.append(
                    {
                        "operator_id": tier.operator_id,
                        "code": tier.operator_code,
                        "name": tier.operator_name,
                        "local_name": tier.operator_name,
                    }
                )
        return ok(rows)

    def exchange_rate(self, request: Request, account: Account) -> Reply:
        if request.params["v"] == "v2":
            return ok(self.fx_object())
        pair = request.query.get("pair", "USD/IDR").upper()
        if pair != "USD/IDR":
            return err(404, "NOT_FOUND", f"Unknown currency pair {pair}.")
        fx = self.fx_object()
        return ok(
            {
                "pair": pair,
                "base_currency": "USD",
                "quote_currency": "IDR",
                "rate": fx["rate"],
                "rate_as_of": fx["rate_as_of"],
            }
        )

    # --- reading orders ---------------------------------------------------------------
    def _order(self, account: Account, raw: Any) -> Order | None:
        if isinstance(raw, bool) or not str(raw).strip().isdigit():
            return None
        return self.state.order(P, account.api_key, str(int(str(raw).strip())))

    def list_orders(self, request: Request, account: Account) -> Reply:
        try:
            limit = self._int_query(request, "limit") or 20
            offset = self._int_query(request, "offset") or 0
        except ValueError:
            return err(422, "VALIDATION_ERROR", "limit and offset must be integers.")
        if not (1 <= limit <= 100) or offset < 0:
            return err(422, "VALIDATION_ERROR", "limit must be 1-100 and offset at least 0.")
        wanted = request.query.get("status", "").strip().upper().replace("CANCELLED", "CANCELED")
        self.state.settle_account(account)
        orders = list(reversed(account.orders.values()))
        if wanted:
            orders = [o for o in orders if self.status_word(o) == wanted]
        page = orders[offset : offset + limit]
        return ok([self.full_view(request, o) for o in page], self.fx(request))

    def active(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        return ok([self.active_view(o) for o in reversed(account.open_orders.values())])

    def get_order(self, request: Request, account: Account) -> Reply:
        order = self._order(account, request.params["id"])
        if order is None:
            return err(404, "NOT_FOUND", "Order not found.")
        return ok(self.full_view(request, order), self.fx(request))

    # --- creating orders -----------------------------------------------------------------
    def create(self, request: Request, account: Account) -> Reply:
        return self._idempotent(request, account, "create", self._create)

    def create_alias(self, request: Request, account: Account) -> Reply:
        reply_box = self._idempotent(request, account, "create", self._create)
        return self._with_flat_fields(reply_box)

    def _with_flat_fields(self, reply: Reply) -> Reply:
        """The guide reads a flat {order_id, phone_number, status, expires_at}."""
        body = json.loads(reply.body)
        data = body.get("data")
        if body.get("success") and isinstance(data, dict) and data.get("orders"):
            first = data["orders"][0]
            data.update(
                {
                    "order_id": first["id"],
                    "phone_number": first["phone_number"],
                    "status": first["status"],
                    "expires_at": first["expires_at"],
                }
            )
            reply.body = json.dumps(body).encode()
        return reply

    def _idempotent(self, request: Request, account: Account, space: str, work) -> Reply:
        """Run `work` at most once per idempotency key; replay its outcome after."""
        key = request.header("Idempotency-Key").strip()
        if not key:
            return work(request, account)
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return err(422, "VALIDATION_ERROR", "Malformed idempotency key.")
        record_key = f"{space}:{key}"
        fingerprint = f"{request.params['v']}:{_canonical(request.body)}"
        record = account.idempotency.get(record_key)
        if record is not None:
            if record["fingerprint"] != fingerprint:
                return err(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "This idempotency key was used with a different body.",
                )
            if not record["done"]:
                return err(
                    409,
                    "REQUEST_IN_PROGRESS",
                    "A request with this idempotency key is still settling.",
                )
            return Reply(record["status"], record["body"].encode(), "application/json")
        account.idempotency[record_key] = {"fingerprint": fingerprint, "done": False}
        self._settle_pause()
        reply = work(request, account)
        account.idempotency[record_key] = {
            "fingerprint": fingerprint,
            "done": True,
            "status": reply.status,
            "body": reply.body.decode(),
        }
        return reply

    def _settle_pause(self) -> None:
        """Hold a create "in progress" (lock released) so a replay can see it settling."""
        pause = self.state.config.smscode_settle_seconds
        if pause <= 0:
            return
        self.state.lock.release()  # handle() holds the lock exactly once
        try:
            time.sleep(pause)
        finally:
            self.state.lock.acquire()

    def _create(self, request: Request, account: Account) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return err(422, "VALIDATION_ERROR", "The body must be JSON.")
        if not isinstance(body, dict):
            return err(422, "VALIDATION_ERROR", "The body must be a JSON object.")
        spec = self._create_spec(request, body)
        if isinstance(spec, Reply):
            return spec
        candidates, quantity = spec
        if not candidates:
            return err(422, "NO_OFFER_AVAILABLE", "No offer matches this product, policy or price.")
        created, failed = [], 0
        for _ in range(quantity):
            iso, tier = candidates[0]
            slug = catalog.smscode_tier_pair()[tier.product_id][0]
            try:
                order = self.state.create_order(
                    account,
                    service=slug,
                    country=iso,
                    price=Decimal(tier.price),
                    product_id=tier.product_id,
                    catalog_product_id=tier.catalog_product_id,
                    operator_id=tier.operator_id,
                )
            except SandboxError:
                failed += 1
                continue
            created.append(order)
        if not created:
            return err(409, "INSUFFICIENT_BALANCE", "Your balance is too low for this order.")
        data = {"orders": [self.created_view(request, o) for o in created], "failed_count": failed}
        return ok(data, self.fx(request))

    def _create_spec(self, request: Request, body: dict[str, Any]):
        """(candidate tiers cheapest first, quantity) or a 422 reply."""
        unknown = sorted(set(body) - CREATE_FIELDS)
        if unknown:
            return err(422, "VALIDATION_ERROR", f"Unknown field(s): {', '.join(unknown)}.")
        modes = [
            name for name in ("product_id", "catalog_product_id") if body.get(name) is not None
        ]
        guide = body.get("country_id") is not None and body.get("platform_id") is not None
        if len(modes) + int(guide) != 1:
            return err(
                422, "VALIDATION_ERROR", "Send exactly one of product_id or catalog_product_id."
            )
        if modes == ["product_id"] and ROUTED_ONLY & {k for k, v in body.items() if v is not None}:
            return err(
                422, "VALIDATION_ERROR", "Routing options need catalog_product_id, not product_id."
            )
        quantity = body.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100:
            return err(422, "VALIDATION_ERROR", "quantity must be an integer from 1 to 100.")
        try:
            max_price = self._price_input(request, body.get("max_price"), ROUND_FLOOR)
            min_price = self._price_input(request, body.get("min_price"), ROUND_CEILING)
        except (ValueError, InvalidOperation):
            return err(
                422,
                "VALIDATION_ERROR",
                "max_price/min_price: IDR integers on /v1, USD strings on /v2.",
            )
        policy = body.get("policy") or "cheapest"
        if policy not in ("cheapest", "best_success"):
            return err(422, "VALIDATION_ERROR", "policy must be cheapest or best_success.")
        tiers = self._tiers_for(body, modes)
        if isinstance(tiers, Reply):
            return tiers
        operator_id = body.get("operator_id")
        picked = [
            (iso, t)
            for iso, t in tiers
            if self._tier_stock(iso, t) > 0
            and (operator_id is None or t.operator_id == operator_id)
            and (max_price is None or t.price <= max_price)
            and (min_price is None or t.price >= min_price)
        ]
        if policy == "best_success":  # the deepest stock delivers most reliably
            picked.sort(key=lambda item: (-item[1].available, item[1].price))
        return picked, quantity

    def _tiers_for(self, body: dict[str, Any], modes: list[str]):
        if modes == ["product_id"]:
            pair = catalog.smscode_tier_pair().get(_as_int(body["product_id"]))
            if pair is None:
                return []
            return [(pair[1], catalog.smscode_tiers_by_id()[_as_int(body["product_id"])])]
        if modes == ["catalog_product_id"]:
            pair = catalog.smscode_catalog_pair().get(_as_int(body["catalog_product_id"]))
        else:
            country = catalog.smscode_country(_as_int(body["country_id"]))
            service = catalog.smscode_platform(_as_int(body["platform_id"]))
            pair = (service.slug, country.iso) if country and service else None
        offer = catalog.offer(P, *pair) if pair else None
        return [(offer.country, t) for t in offer.tiers] if offer else []

    # --- acting on orders ------------------------------------------------------------------
    def _order_from_body(self, request: Request, account: Account) -> Order | Reply:
        try:
            body = request.json()
        except ValueError:
            return err(422, "VALIDATION_ERROR", "The body must be JSON.")
        raw = body.get("id") if isinstance(body, dict) else None
        if raw is None or isinstance(raw, bool) or not str(raw).strip().isdigit():
            return err(422, "VALIDATION_ERROR", "id is required and must be an integer.")
        order = self._order(account, raw)
        return order if order is not None else err(404, "NOT_FOUND", "Order not found.")

    def cancel(self, request: Request, account: Account) -> Reply:
        order = self._order_from_body(request, account)
        return order if isinstance(order, Reply) else self._cancel(request, account, order)

    def cancel_alias(self, request: Request, account: Account) -> Reply:
        order = self._order(account, request.params["id"])
        if order is None:
            return err(404, "NOT_FOUND", "Order not found.")
        return self._cancel(request, account, order)

    def _cancel(self, request: Request, account: Account, order: Order) -> Reply:
        try:
            refund = self.state.cancel(order)
        except SandboxError as exc:
            if exc.reason == "locked":
                at = iso_time(exc.details["until"])
                return err(
                    409,
                    "CANCEL_TOO_EARLY",
                    f"This order can be cancelled from {at}.",
                    {"cancel_available_at": at},
                )
            if exc.reason == "has_sms":
                return err(
                    409,
                    "CONFLICT",
                    "An SMS already arrived: finish the order instead of cancelling it.",
                )
            return err(
                409, "CONFLICT", f"The order is {self.status_word(order)} and cannot be cancelled."
            )
        data = {
            "order_id": int(order.id),
            "status": "CANCELED",
            "refund_amount": self.money(request, refund),
            "new_balance": self.money(request, account.balance, places=2),
        }
        return ok(data, self.fx(request))

    def finish(self, request: Request, account: Account) -> Reply:
        order = self._order_from_body(request, account)
        if isinstance(order, Reply):
            return order
        try:
            self.state.finish(order)
        except SandboxError:
            return err(
                409, "CONFLICT", f"The order is {self.status_word(order)} and cannot be finished."
            )
        return ok({"order_id": int(order.id), "status": "COMPLETED"})

    def resend(self, request: Request, account: Account) -> Reply:
        order = self._order_from_body(request, account)
        if isinstance(order, Reply):
            return order
        if not self.capabilities(order)["can_resend"]:
            return err(409, "CONFLICT", "This order cannot be resent now.")
        self.state.request_another(order)
        order.resend_available_at = self.state.now() + self.state.scaled(
            self.state.config.smscode_resend_cooldown_seconds
        )
        return ok({"order_id": int(order.id), "status": self.status_word(order), "resent": True})

    def _reactivation_cost(self, order: Order) -> int:
        return int(order.price)

    def reactivate(self, request: Request, account: Account) -> Reply:
        return self._idempotent(request, account, "reactivate", self._reactivate)

    def _reactivate(self, request: Request, account: Account) -> Reply:
        order = self._order_from_body(request, account)
        if isinstance(order, Reply):
            return order
        if not self.capabilities(order)["can_reactivate"]:
            return err(409, "CONFLICT", "This order cannot be reactivated.")
        cost = self._reactivation_cost(order)
        try:
            cap = self._price_input(request, request.json().get("max_price"), ROUND_FLOOR)
        except (ValueError, InvalidOperation, AttributeError):
            return err(
                422, "VALIDATION_ERROR", "max_price: an IDR integer on /v1, a USD string on /v2."
            )
        if cap is not None and cost > cap:
            return err(422, "VALIDATION_ERROR", "The reactivation costs more than max_price.")
        try:
            child = self.state.create_order(
                account,
                service=order.service,
                country=order.country,
                price=Decimal(cost),
                phone=(order.dial, order.phone),
                product_id=order.product_id,
                catalog_product_id=order.catalog_product_id,
                operator_id=order.operator_id,
                reactivated_from=order.id,
            )
        except SandboxError:
            return err(
                409, "INSUFFICIENT_BALANCE", "Your balance is too low for this reactivation."
            )
        return ok(
            {"orders": [self.created_view(request, child)], "failed_count": 0}, self.fx(request)
        )

    def reactivate_options(self, request: Request, account: Account) -> Reply:
        order = self._order(account, request.params["id"])
        if order is None:
            return err(404, "NOT_FOUND", "Order not found.")
        if not self.capabilities(order)["can_reactivate"]:
            return err(409, "CONFLICT", "This order cannot be reactivated.")
        return ok({"cost": self.money(request, self._reactivation_cost(order))}, self.fx(request))

    # --- the integration guide's dialect ---------------------------------------------------
    def guide_status(self, order: Order) -> str:
        """The guide's lower-case words: "pending" while the number is new (its cancel
        lock holds), "active" after, "completed" as soon as the code is there."""
        if order.status == WAITING:
            return "pending" if self.state.now() < order.cancel_after else "active"
        if order.status in (RECEIVED, FINISHED):
            return "completed"
        return {CANCELLED: "cancelled", EXPIRED: "expired"}.get(order.status, "completed")

    def guide_view(self, order: Order) -> dict[str, Any]:
        """What the guide polls: status and otp_code, next to the create result's fields."""
        if order.messages:
            self.state.mark_fetched(order)
        return {
            "order_id": order.id,  # a string, as in the guide's examples
            "phone_number": "+" + order.e164,
            "status": self.guide_status(order),
            "otp_code": order.code or None,
            "expires_at": iso_time(order.expires_at),
        }

    def guide_countries(self, request: Request, account: Account) -> Reply:
        rows = [
            {"country_id": c.smscode_id, "name": c.name}
            for c in sorted(catalog.COUNTRIES, key=lambda c: c.smscode_id or 0)
            if c.smscode_id is not None
        ]
        return ok(rows)

    def guide_products(self, request: Request, account: Account) -> Reply:
        """One row per country and platform; the guide filters by country only."""
        try:
            country_id = self._int_query(request, "country_id")
        except ValueError:
            return err(400, "INVALID_PARAMETERS", "country_id must be an integer.")
        rows = []
        for (slug, iso), offer in catalog.offers(P).items():
            service, country = catalog.SERVICE_BY_SLUG[slug], catalog.COUNTRY_BY_ISO[iso]
            if country_id is None or country.smscode_id == country_id:
                rows.append(self._guide_product(service, country, offer))
        rows.sort(key=lambda row: (row["country_id"], row["platform_id"]))
        return ok(rows)

    def _guide_product(self, service, country, offer: catalog.Offer) -> dict[str, Any]:
        # The guide names only these four fields; the names next to the ids follow
        # SMSCode's own webhook (`country`, `platform`), so the rows say what they sell.
        tiers = self._guide_tiers(offer)
        return {
            "country_id": country.smscode_id,
            "country": country.name,
            "platform_id": service.smscode_platform_id,
            "platform": service.name,
            "price": (tiers or offer.tiers)[0].price,  # what POST /v1/orders charges
            "available_count": sum(self._tier_stock(offer.country, t) for t in tiers),
        }

    def _guide_tiers(self, offer: catalog.Offer | None) -> list[catalog.Tier]:
        """The tiers a guide create can buy from, cheapest first: those with stock."""
        if offer is None:
            return []
        return [t for t in offer.tiers if self._tier_stock(offer.country, t) > 0]

    def guide_create(self, request: Request, account: Account) -> Reply:
        return self._idempotent(request, account, "create", self._guide_create)

    def _guide_create(self, request: Request, account: Account) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return err(400, "INVALID_PARAMETERS", "The request body must be JSON.")
        ids = _guide_ids(body)
        if ids is None:
            return err(
                400, "INVALID_PARAMETERS", "country_id and platform_id are required integers."
            )
        country, service = catalog.smscode_country(ids[0]), catalog.smscode_platform(ids[1])
        offer = catalog.offer(P, service.slug, country.iso) if country and service else None
        tiers = self._guide_tiers(offer)
        if not tiers:
            return err(
                422,
                "PRODUCT_UNAVAILABLE",
                f"No numbers in stock for country {ids[0]}, platform {ids[1]}.",
            )
        try:
            order = self.state.create_order(
                account,
                service=offer.service,
                country=offer.country,
                price=Decimal(tiers[0].price),
                product_id=tiers[0].product_id,
                catalog_product_id=tiers[0].catalog_product_id,
                operator_id=tiers[0].operator_id,
            )
        except SandboxError:
            return err(402, "INSUFFICIENT_BALANCE", "Balance too low to create order.")
        view = self.guide_view(order)
        created = {k: view[k] for k in ("order_id", "phone_number", "status", "expires_at")}
        return ok(created, status=201)

    def guide_order(self, request: Request, account: Account) -> Reply:
        order = self._order(account, request.params["id"])
        if order is None:
            return self._guide_unknown_order()
        return ok(self.guide_view(order))

    def guide_cancel(self, request: Request, account: Account) -> Reply:
        order = self._order(account, request.params["id"])
        if order is None:
            return self._guide_unknown_order()
        try:
            self.state.cancel(order)
        except SandboxError as exc:
            if exc.reason == "locked":
                seconds = math.ceil(exc.details["seconds"])
                return err(
                    409,
                    "CANCEL_TOO_EARLY",
                    f"This order can be cancelled in {seconds} seconds.",
                    headers=retry_after_header(exc.details["seconds"]),
                )
            return err(
                409, "CONFLICT", f"The order is {self.guide_status(order)} and cannot be cancelled."
            )
        return ok({"order_id": order.id, "status": "cancelled"})

    def _guide_unknown_order(self) -> Reply:
        return err(
            404, "ORDER_NOT_FOUND", "Order ID doesn't exist or doesn't belong to your token."
        )

    # --- webhooks: configuration, and the order events pushed (WebhookPusher) -------------
    def _webhook_config(self, account: Account) -> dict[str, Any]:
        hook = account.webhook
        return {
            "webhook_url": hook.get("url"),
            "webhook_secret": hook.get("secret"),
            "webhook_disabled_at": iso_time(hook.get("disabled_at")),
            "webhook_disabled_reason": hook.get("disabled_reason"),
            "webhook_consecutive_failures": hook.get("failures", 0),
        }

    def webhook_data(self, order: Order, event: str) -> dict[str, Any]:
        """An order event's `data`: every key, null where unknown; no status, no amount."""
        operator_id, operator_name = self._operator(order)
        last = order.last_message
        return {
            "order_id": int(order.id),
            "phone_number": "+" + order.e164,
            "otp_code": order.code or None,
            "otp_message": last.text if last else None,
            "sms_revision": len(order.messages) if event == OTP_RECEIVED else None,
            "product_id": order.product_id,
            "catalog_product_id": order.catalog_product_id,
            "country": catalog.COUNTRY_BY_ISO[order.country].name,
            "platform": catalog.SERVICE_BY_SLUG[order.service].name,
            "operator_id": operator_id,
            "operator_name": operator_name,
            **self.capabilities(order),
        }

    def webhook(self, request: Request, account: Account) -> Reply:
        return ok(self._webhook_config(account))

    def webhook_update(self, request: Request, account: Account) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return err(422, "VALIDATION_ERROR", "The body must be JSON.")
        fields = {
            k: body[k]
            for k in ("webhook_url", "webhook_secret")
            if isinstance(body, dict) and k in body
        }
        if not fields:
            return err(422, "VALIDATION_ERROR", "Send webhook_url, webhook_secret or both.")
        url = fields.get("webhook_url")
        if url and (not str(url).startswith(("https://", "http://")) or len(str(url)) > 2048):
            return err(
                422,
                "VALIDATION_ERROR",
                "webhook_url must be an http(s) URL of at most 2048 characters.",
            )
        hook = account.webhook
        if "webhook_url" in fields:
            hook["url"] = url or None
        if "webhook_secret" in fields:
            hook["secret"] = fields["webhook_secret"] or None
        if hook.get("url") and not hook.get("secret"):
            hook["secret"] = secrets.token_hex(32)
        hook["failures"] = 0  # any successful PATCH re-enables delivery
        hook.pop("disabled_at", None)
        hook.pop("disabled_reason", None)
        if hook.get("url"):
            self.pusher.start()
        return ok(self._webhook_config(account))

    def webhook_test(self, request: Request, account: Account) -> Reply:
        url, secret = account.webhook.get("url"), account.webhook.get("secret")
        if not url:
            return err(422, "VALIDATION_ERROR", "No webhook URL is set.")
        payload = {
            "event": "webhook.test",
            "timestamp": iso_time(self.state.now()),
            "data": {"message": "This is a test webhook from SMSCode."},
        }
        raw = json.dumps(payload).encode()
        self.state.lock.release()  # never hold the state lock across an outbound call
        try:
            status = _post(url, raw, _signed_headers(secret, raw))
        finally:
            self.state.lock.acquire()
        return ok({"status_code": status})


# --- pushing order events -------------------------------------------------------------------

OTP_RECEIVED = "order.otp_received"
# What happened to an order (SandboxState.order_listeners) -> the event SMSCode pushes.
EVENTS = {
    "sms": OTP_RECEIVED,
    FINISHED: "order.completed",
    EXPIRED: "order.expired",
    CANCELLED: "order.canceled",
}
PUSH_SENDERS = 4  # deliveries in flight at once (so events may arrive out of order)
PUSH_TICK = 0.05  # seconds between settling the accounts that have a webhook
MAX_FAILURES = 10  # failed deliveries in a row that switch delivery off
DISABLED_REASON = "consecutive_failed_user_endpoint"
MAX_RETRY_WAIT = 60.0


@dataclass
class Push:
    api_key: str
    order_id: str
    body: bytes
    attempt: int = 0


def _delivering(hook: dict[str, Any]) -> bool:
    return bool(hook.get("url")) and hook.get("disabled_at") is None


def _signed_headers(secret: str | None, raw: bytes) -> dict[str, str]:
    """SMSCode's signature: HMAC-SHA256 of the exact body, keyed with the secret's
    UTF-8 bytes; no header when no secret is set."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Webhook-Signature"] = (
            "sha256=" + hmac.new(secret.encode(), raw, sha256).hexdigest()
        )
    return headers


class WebhookPusher:
    """POSTs signed order events to each account's registered webhook, as SMSCode does.

    An event is built when its order changes (a code arrives, the order is finished,
    expires or is cancelled: SandboxState.order_listeners) and sent by one of
    PUSH_SENDERS threads. A watcher thread settles, every PUSH_TICK, the accounts
    that have a webhook, so scheduled codes and expiries happen (and are pushed) on
    time rather than at the next read. A non-2xx answer or a transport failure is
    retried with backoff; MAX_FAILURES in a row switch delivery off
    (`webhook_disabled_at`), until the next successful PATCH. Threads start with the
    first registered webhook and stop with the server.
    """

    def __init__(self, protocol: SmsCode) -> None:
        self.protocol = protocol
        self.state = protocol.state
        self.cond = threading.Condition()
        self.outbox: list[tuple[float, int, Push]] = []  # a heap by due time
        self.seq = itertools.count()
        self.threads: list[threading.Thread] = []
        self.closed = threading.Event()

    def start(self) -> None:
        with self.cond:
            if self.threads or self.closed.is_set():
                return
            self.threads = [threading.Thread(target=self._watch, name="smscode-hooks", daemon=True)]
            self.threads += [
                threading.Thread(target=self._send_loop, name=f"smscode-push-{i}", daemon=True)
                for i in range(PUSH_SENDERS)
            ]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.closed.set()
        with self.cond:
            self.cond.notify_all()
        for thread in self.threads:
            thread.join(timeout=6)

    # --- events (called under the state lock) -------------------------------------------
    def on_order(self, order: Order, what: str) -> None:
        event = EVENTS.get(what)
        if order.protocol != P or event is None or not self.state.config.smscode_webhooks:
            return
        account = self.state.accounts.get((P, order.api_key))
        if account is None or not _delivering(account.webhook):
            return
        payload = {
            "event": event,
            "timestamp": iso_time(self.state.now()),
            "data": self.protocol.webhook_data(order, event),
        }
        self.enqueue(Push(account.api_key, order.id, json.dumps(payload).encode()), 0.0)

    def enqueue(self, push: Push, delay: float) -> None:
        with self.cond:
            heapq.heappush(self.outbox, (time.monotonic() + delay, next(self.seq), push))
            self.cond.notify()
        self.start()

    # --- threads -------------------------------------------------------------------------
    def _watch(self) -> None:
        """Settle the accounts with a webhook: due codes and expiries become events."""
        while not self.closed.wait(PUSH_TICK):
            if not self.state.config.smscode_webhooks:
                continue
            with self.state.lock:
                for account in list(self.state.accounts.values()):
                    if (
                        account.protocol == P
                        and account.open_orders
                        and _delivering(account.webhook)
                    ):
                        self.state.settle_account(account)

    def _send_loop(self) -> None:
        while True:
            with self.cond:
                while not self.closed.is_set():
                    wait = self.outbox[0][0] - time.monotonic() if self.outbox else 0.5
                    if self.outbox and wait <= 0:
                        break
                    self.cond.wait(min(max(wait, 0.001), 0.5))
                if self.closed.is_set():
                    return
                _, _, push = heapq.heappop(self.outbox)
            self._deliver(push)

    def _deliver(self, push: Push) -> None:
        with self.state.lock:
            account = self.state.accounts.get((P, push.api_key))
            hook = account.webhook if account is not None else {}
            if not _delivering(hook):
                return  # switched off, removed, or the sandbox was reset meanwhile
            url, secret = hook["url"], hook.get("secret")
        status = _post(url, push.body, _signed_headers(secret, push.body))
        with self.state.lock:
            if self.state.accounts.get((P, push.api_key)) is not account:
                return
            if 200 <= status < 300:
                hook["failures"] = 0
                order = self.state.orders.get((P, push.order_id))
                if order is not None:
                    self.state.mark_fetched(order)
                return
            hook["failures"] = hook.get("failures", 0) + 1
            if hook["failures"] >= MAX_FAILURES:
                hook["disabled_at"] = self.state.now()
                hook["disabled_reason"] = DISABLED_REASON
                return
        first = self.state.config.smscode_webhook_retry_seconds
        wait = min(MAX_RETRY_WAIT, first * 2**push.attempt)
        push.attempt += 1
        self.enqueue(push, wait)


def _post(url: str, raw: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=raw, headers=headers, method="POST")  # noqa: S310 - the account's own URL
    try:
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def _canonical(body: bytes) -> str:
    """The body in a form where key order and whitespace do not matter."""
    try:
        return json.dumps(json.loads(body or b"{}"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return body.decode("utf-8", "replace")


def _guide_ids(body: Any) -> tuple[int, int] | None:
    """(country_id, platform_id) from the guide's create body; None unless both are ints."""
    if not isinstance(body, dict):
        return None
    ids = body.get("country_id"), body.get("platform_id")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in ids):
        return None
    return ids[0], ids[1]


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return -1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
