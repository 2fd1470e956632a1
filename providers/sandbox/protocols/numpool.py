"""NumPool's REST API under /numpool/api/v1 (X-API-Key, JSON, money as numbers).

Undocumented choices (see docs/SANDBOX.md): out of stock is 400 with an
"Out of stock" error; GET /orders is a bare list, newest first; an order that
expires without a code is refunded and reads "cancelled" (the only final
status the poll documents); every order has a short cancel lock answered
with 400 "Order cannot be cancelled yet, try again in N seconds".
"""

from __future__ import annotations

import math
from typing import Any

from providers.sandbox import catalog
from providers.sandbox.http import Reply, Request, json_reply
from providers.sandbox.protocols.base import Protocol, iso_time
from providers.sandbox.state import (
    CANCELLED,
    EXPIRED,
    RENTAL_ACTIVE,
    WAITING,
    Account,
    Order,
    SandboxError,
)

P = "numpool"
DAY = 86400
STATUS = {WAITING: "waiting", CANCELLED: "cancelled", EXPIRED: "cancelled"}  # else "received"


def error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": message})


class NumPool(Protocol):
    name = P
    prefix = "/numpool/api/v1"

    def setup_routes(self) -> None:
        add = self.router.add
        add("GET", r"/services", self.services)
        add("GET", r"/countries", self.countries)
        add("POST", r"/buy", self.buy)
        add("GET", r"/sms/(?P<order_id>[^/]+)", self.poll, "/sms/:id")
        add("POST", r"/cancel/(?P<order_id>[^/]+)", self.cancel, "/cancel/:id")
        add("GET", r"/orders", self.orders)
        add("GET", r"/balance", self.balance)
        add("GET", r"/rentals/services", self.rental_services)
        add("GET", r"/rentals/prices", self.rental_prices)
        add("POST", r"/rentals", self.rent)
        add("GET", r"/rentals", self.rentals)
        add("GET", r"/rentals/(?P<rental_id>[^/]+)/sms", self.inbox, "/rentals/:id/sms")

    def api_key(self, request: Request) -> str:
        return request.header("X-API-Key").strip()

    def handle(self, request: Request) -> Reply:
        found = self.router.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params, _name = found
        request.params = params
        with self.state.lock:
            account = self.state.account(P, self.api_key(request))
            if account is None:
                return error(401, "Missing or invalid API key")
            return handler(request, account)

    def not_found(self, request: Request) -> Reply:
        return error(404, "Not found")

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        return error(429, "Too many requests (max 60/min)")

    def malformed(self, request: Request) -> Reply:
        return Reply(200, b'{"order_id": "a1b2c3d4e5f6", "status": "rec', "application/json")

    def _body(self, request: Request) -> dict[str, Any] | Reply:
        try:
            body = request.json()
        except ValueError:
            body = dict(request.form())  # be lenient: a form body works too
            if not body:
                return error(400, "Request body must be JSON")
        if not isinstance(body, dict):
            return error(400, "Request body must be a JSON object")
        return body

    # --- catalog ----------------------------------------------------------------------
    def services(self, request: Request, account: Account) -> Reply:
        rows = [
            {"id": s.numpool_code, "name": s.name, "domain": s.domain}
            for s in catalog.SERVICES
            if s.numpool_code
        ]
        return json_reply(200, rows)

    def countries(self, request: Request, account: Account) -> Reply:
        code = request.query.get("service", "").strip()
        if not code:
            rows = [
                {"id": c.numpool_id, "name": c.numpool_name, "flag": c.iso}
                for c in sorted(catalog.COUNTRIES, key=lambda c: c.numpool_id or 0)
                if c.numpool_id is not None
            ]
            return json_reply(200, rows)
        service = catalog.numpool_service(code)
        if service is None:
            return error(400, f"Unknown service: {code}")
        rows = []
        for (slug, iso), offer in catalog.offers(P).items():
            stock = self._stock(offer)
            if slug != service.slug or stock <= 0:
                continue
            country = catalog.COUNTRY_BY_ISO[iso]
            rows.append(
                {
                    "id": country.numpool_id,
                    "name": country.numpool_name,
                    "flag": iso,
                    "price": float(offer.price),
                    "stock": stock,
                    "currency": "USD",
                }
            )
        rows.sort(key=lambda r: r["price"])
        return json_reply(200, rows)

    def _stock(self, offer: catalog.Offer) -> int:
        return 0 if self.state.config.is_out_of_stock(P, offer.country) else offer.stock

    # --- verifications ----------------------------------------------------------------
    def buy(self, request: Request, account: Account) -> Reply:
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        if not body.get("service") or body.get("country") in (None, ""):
            return error(400, "Missing required fields: service, country")
        service = catalog.numpool_service(str(body["service"]))
        country = catalog.numpool_country(body["country"])
        if service is None:
            return error(400, f"Unknown service: {body['service']}")
        if country is None:
            return error(400, f"Unknown country: {body['country']}")
        offer = catalog.offer(P, service.slug, country.iso)
        if offer is None or self._stock(offer) <= 0:
            return error(400, "Out of stock: no numbers available for this service and country")
        try:
            order = self.state.create_order(
                account, service=service.slug, country=country.iso, price=offer.price
            )
        except SandboxError:
            return error(402, "Insufficient wallet balance")
        return json_reply(
            200,
            {
                "order_id": order.id,
                "number": "+" + order.e164,
                "cost": float(order.price),
                "status": "pending",
                "poll_url": f"{request.base_url}{self.prefix}/sms/{order.id}",
            },
        )

    def _order(self, request: Request, account: Account) -> Order | None:
        return self.state.order(P, account.api_key, request.params["order_id"])

    def _view(self, order: Order) -> dict[str, Any]:
        status = STATUS.get(order.status, "received")
        if status == "received":
            self.state.mark_fetched(order)
        last = order.last_message
        return {
            "order_id": order.id,
            "status": status,
            "code": (order.code or None) if status == "received" else None,
            "full_sms": last.text if last and status == "received" else None,
            "number": "+" + order.e164,
        }

    def poll(self, request: Request, account: Account) -> Reply:
        order = self._order(request, account)
        if order is None:
            return error(404, "Order not found")
        return json_reply(200, self._view(order))

    def cancel(self, request: Request, account: Account) -> Reply:
        order = self._order(request, account)
        if order is None:
            return error(404, "Order not found")
        try:
            refunded = self.state.cancel(order)
        except SandboxError as exc:
            if exc.reason == "locked":
                seconds = math.ceil(exc.details["seconds"])
                return error(400, f"Order cannot be cancelled yet, try again in {seconds} seconds")
            if exc.reason == "has_sms":
                return error(400, "Order cannot be cancelled: a code was already received")
            return error(
                400, f"Order cannot be cancelled: it is already {self._view(order)['status']}"
            )
        return json_reply(200, {"ok": True, "order_id": order.id, "refunded": float(refunded)})

    def orders(self, request: Request, account: Account) -> Reply:
        limit = _bounded(request.query.get("limit"), 20, 1, 100)
        offset = _bounded(request.query.get("offset"), 0, 0, 10**9)
        self.state.settle_account(account)
        page = list(reversed(account.orders.values()))[offset : offset + limit]
        rows = []
        for order in page:
            view = self._view(order)
            rows.append(
                {
                    "order_id": order.id,
                    "number": view["number"],
                    "service": catalog.SERVICE_BY_SLUG[order.service].numpool_code,
                    "country": catalog.COUNTRY_BY_ISO[order.country].numpool_id,
                    "status": view["status"],
                    "code": view["code"],
                    "full_sms": view["full_sms"],
                    "cost": float(order.price),
                    "created_at": iso_time(order.created_at),
                    "expires_at": iso_time(order.expires_at),
                }
            )
        return json_reply(200, rows)

    def balance(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        return json_reply(200, {"balance": float(account.balance), "currency": "USD"})

    # --- rentals ----------------------------------------------------------------------
    def rental_services(self, request: Request, account: Account) -> Reply:
        rows = [
            {"service": slug, "name": catalog.SERVICE_BY_SLUG[slug].name}
            for slug in catalog.NUMPOOL_RENTAL_SERVICES
        ]
        return json_reply(200, rows)

    def rental_prices(self, request: Request, account: Account) -> Reply:
        service = request.query.get("service", "").strip().lower()
        if not service:
            return error(400, "Missing required query parameter: service")
        if service not in catalog.NUMPOOL_RENTAL_SERVICES:
            return error(400, f"Unknown rental service: {service}")
        durations = [
            {
                "duration": key,
                "days": days,
                "price": float(catalog.numpool_rental_price(service, days)),
            }
            for key, days in catalog.NUMPOOL_DURATIONS
        ]
        return json_reply(200, {"service": service, "durations": durations})

    def rent(self, request: Request, account: Account) -> Reply:
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        service = str(body.get("service") or "").strip().lower()
        duration = str(body.get("duration") or "").strip()
        days = dict(catalog.NUMPOOL_DURATIONS).get(duration)
        if not service or not duration:
            return error(400, "Missing required fields: service, duration")
        if service not in catalog.NUMPOOL_RENTAL_SERVICES:
            return error(400, f"Unknown rental service: {service}")
        if days is None:
            keys = ", ".join(k for k, _d in catalog.NUMPOOL_DURATIONS)
            return error(400, f"Invalid duration: {duration}. Use one of {keys}")
        if self.state.config.is_out_of_stock(P, "US"):
            return error(400, "Out of stock: no rental numbers available right now")
        price = catalog.numpool_rental_price(service, days)
        try:
            rental = self.state.create_rental(
                account,
                country="US",
                service=service,
                price=price,
                duration=days * DAY,
                product=duration,
                days=days,
            )
        except SandboxError:
            return error(402, "Insufficient wallet balance")
        return json_reply(200, self._rental_view(request, rental))

    def _rental_view(self, request: Request, rental) -> dict[str, Any]:
        return {
            "rental_id": rental.id,
            "number": "+" + rental.e164,
            "service": rental.service,
            "days": rental.days,
            "cost": float(rental.price),
            "status": "active" if rental.status == RENTAL_ACTIVE else "expired",
            "created_at": iso_time(rental.created_at),
            "ends_at": iso_time(rental.expires_at),
            "inbox_url": f"{request.base_url}{self.prefix}/rentals/{rental.id}/sms",
        }

    def rentals(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        rows = [self._rental_view(request, r) for r in reversed(account.rentals.values())]
        return json_reply(200, rows)

    def inbox(self, request: Request, account: Account) -> Reply:
        rental = self.state.rental(P, account.api_key, request.params["rental_id"])
        if rental is None:
            return error(404, "Rental not found")
        self.state.mark_rental_fetched(rental)
        messages = [
            {
                "from": m.sender,
                "body": m.text,
                "code": m.code or None,
                "at": iso_time(m.delivered_at),
            }
            for m in rental.messages
        ]
        return json_reply(200, {"rental_id": rental.id, "messages": messages})


def _bounded(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(raw))) if raw not in (None, "") else default
    except ValueError:
        return default
