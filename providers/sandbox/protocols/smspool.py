"""SMSPool's JSON API under /smspool, plus its SMS-Activate stub.

Shapes follow the Postman collection (smspool-postman-examples.json): money
as strings ("0.24"), `number` an int in purchase, `status` an int in
sms/check but a string in request/active and history, code "0" until one
arrives, 422 with HTML `message` and a nested `pools` object for purchase
failures, 400 for a locked cancel, 404 for unknown orders (each endpoint
with its documented wording), 403 with the errors[] envelope for a bad key.

Two dialects (`config.dialect("smspool", key)`): "postman", the collection,
by default; "seed", the older endpoint page (smspool-api-endpoints.txt), where
sms/resend keeps the same order and answers `{success, message, resend}`,
rental/retrieve_all lists `{"<id>": {name, region, pricing}}` with no refund
fields, every rental is refundable within 12 hours and before a message, and
purchase/sms ignores `quantity` (the page does not list it: one number per call;
the collection's dialect sells that many and answers a list of order objects).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from providers.sandbox import catalog
from providers.sandbox.http import Reply, Request, json_reply
from providers.sandbox.protocols.base import Protocol, Refusal, money2, seconds_left
from providers.sandbox.protocols.smsactivate import SmsActivate
from providers.sandbox.state import (
    CANCELLED,
    EXPIRED,
    FINISHED,
    RECEIVED,
    RENTAL_ACTIVE,
    RENTAL_REFUNDED,
    RESENT,
    WAITING,
    Account,
    Order,
    Rental,
    SandboxError,
)

P = "smspool"
KEY_HELP = "Your API key which can be found on your settings page at /my/settings"
PARAM_HELP = {
    "key": KEY_HELP,
    "service": "Service name or service ID which can be retrieved at the "
    "/service/retrieve_all endpoint",
    "country": "Country name or country ID which can be retrieved at the "
    "/country/retrieve_all endpoint",
}
NO_STOCK = "We couldn't find an available phone number for you, please try again later!"
STATUS_CODE = {WAITING: 1, RECEIVED: 3, FINISHED: 3, RESENT: 4, CANCELLED: 6, EXPIRED: 6}
STATUS_WORD = {
    WAITING: "pending",
    RECEIVED: "completed",
    FINISHED: "completed",
    RESENT: "resend",
    CANCELLED: "refunded",
    EXPIRED: "refunded",
}
LOCKED_WORDING = (
    "Your order cannot be cancelled yet, please try again later.",
    "This phone number cannot be cancelled yet, please try again later.",
)
DAY = 86400
try:
    # smspool-endpoints.md: `dt` strings carry no zone and read "about one hour
    # ahead of the UTC capture time" in January: server-local Central European time.
    SERVER_TZ: timezone | ZoneInfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without tz data
    SERVER_TZ = timezone(timedelta(hours=1), "CET")
BAD_RENTAL_ID = (
    "Invalid rental ID, please enter a valid rental ID from /rental/retrieve_all endpoint"
)
BAD_DAYS = "You selected a invalid amount of days! The following days are available: "
# The endpoint page (seed dialect), verbatim, typo included.
SEED_RESENT = {"success": 1, "message": "Number has been requested again", "resend": 0}
SEED_NOT_RESENT = {
    "success": 0,
    "message": "Phonenumber could not be requested again, try later again.",
    "resend": 0,
}
SEED_NO_TYPE = "Fill in all params! [GET: type, key (optional)]"
SEED_REFUND_HOURS = 12
SEED_REFUND_REFUSED = "TYou cannot refund a rental after 12 hours or after receiving one message."


def missing(*params: str) -> Reply:
    """400 E-param: one entry per missing parameter."""
    errors = []
    for param in params:
        entry = {
            "message": "You are missing a required parameter for this request.",
            "param": param,
        }
        if param in PARAM_HELP:
            entry["description"] = PARAM_HELP[param]
        errors.append(entry)
    return json_reply(400, {"success": 0, "errors": errors})


def fail(status: int, message: str) -> Reply:
    return json_reply(status, {"success": 0, "message": message})


class SmsPool(Protocol):
    name = P
    prefix = "/smspool"

    def __init__(self, state):
        super().__init__(state)
        # SMSPool's SMS-Activate compatible stub: same account, same orders.
        self.stub = SmsActivate(state, family=P, stub=True)

    def setup_routes(self) -> None:
        add = self.router.add
        both = "GET POST"
        add(both, r"/country/retrieve_all", self.countries)
        add(both, r"/service/retrieve_all", self.services)
        add(both, r"/pool/retrieve_all", self.pools)
        add(both, r"/pool/retrieve_valid", self.valid_pools)
        add(both, r"/request/price", self.price)
        add(both, r"/request/pricing", self.pricing)
        add(both, r"/request/suggested_countries", self.suggested_countries)
        add(both, r"/request/success_rate", self.success_rate)
        add(both, r"/request/balance", self.balance)
        add(both, r"/request/active", self.active)
        add(both, r"/request/history", self.history)
        add(both, r"/request/archive", self.archive)
        add(both, r"/purchase/sms", self.purchase)
        add(both, r"/sms/check", self.check)
        add(both, r"/sms/cancel", self.cancel)
        add(both, r"/sms/cancel_all", self.cancel_all)
        add(both, r"/sms/resend", self.resend)
        add(both, r"/sms/check_resend", self.check_resend)
        add(both, r"/sms/activate", self.activate)
        add(both, r"/sms/reactivate", self.reactivate)
        add(both, r"/sms/clear_cache", self.clear_cache)
        add(both, r"/sms/stock", self.stock)
        add(both, r"/sms/all_stock", self.all_stock)
        add(both, r"/rental/retrieve_all", self.rental_products)
        add(both, r"/rental/retrieve_pricing", self.rental_pricing)
        add(both, r"/rental/stock", self.rental_stock)
        add(both, r"/purchase/rental", self.rent)
        add(both, r"/rental/retrieve_messages", self.rental_messages)
        add(
            both,
            r"/rental/retrieve_status(?:\.php)?",
            self.rental_status,
            "/rental/retrieve_status",
        )
        add(both, r"/rental/refund(?:\.php)?", self.rental_refund, "/rental/refund")
        add(both, r"/rental/extend(?:\.php)?", self.rental_extend, "/rental/extend")
        add(both, r"/rental/auto_extend", self.rental_auto_extend)
        add(both, r"/rental/retrieve", self.rentals)
        add(both, r"/rental/info", self.rental_info)
        add(both, r"/rental/history", self.rental_history)
        add(both, r"/rental/retrieve_services", self.rental_services)
        add(both, r"/rental/reset", self.rental_reset)

    # --- plumbing ---------------------------------------------------------------------
    def _is_stub(self, request: Request) -> bool:
        return request.path.startswith("/stubs/handler_api")

    def api_key(self, request: Request) -> str:
        if self._is_stub(request):
            return self.stub.api_key(request)
        return request.value("key") or request.bearer()

    def endpoint(self, request: Request) -> str:
        if self._is_stub(request):
            return "stub:" + self.stub.endpoint(request)
        return super().endpoint(request)

    def handle(self, request: Request) -> Reply:
        if self._is_stub(request):
            request.path = request.path.removeprefix("/stubs")
            return self.stub.handle(request)
        return super().handle(request)

    def not_found(self, request: Request) -> Reply:
        return fail(404, "This endpoint does not exist.")

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        if self._is_stub(request):
            return self.stub.rate_limited(request, retry_after)
        # SMSPool sends no Retry-After; the caller backs off on its own.
        return json_reply(429, {"success": 0, "message": "Too many requests"})

    def malformed(self, request: Request) -> Reply:
        if self._is_stub(request):
            return self.stub.malformed(request)
        return Reply(200, b'{"success":1,"number":1415555,"order_id":"K7Q2', "application/json")

    def _seed(self, request: Request) -> bool:
        """True when this caller's key is served the endpoint page's dialect."""
        return self.state.config.dialect(P, self.api_key(request)) == "seed"

    def _account(self, request: Request) -> Account:
        """The caller's account; raises Refusal with SMSPool's answer for a bad key."""
        key = self.api_key(request)
        if not key:
            raise Refusal(missing("key"))
        account = self.state.account(P, key)
        if account is None:
            body = {
                "success": 0,
                "errors": [{"message": "Invalid API key", "param": "key", "description": KEY_HELP}],
            }
            raise Refusal(json_reply(403, body))
        return account

    def _order(self, request: Request, account: Account, not_found: str) -> Order:
        """The order named by `orderid`; raises Refusal when it is missing or unknown."""
        order_id = request.value("orderid")
        if not order_id:
            raise Refusal(missing("orderid"))
        order = self.state.order(P, account.api_key, order_id)
        if order is None:
            raise Refusal(fail(404, not_found))
        return order

    # --- catalog ------------------------------------------------------------------------
    def countries(self, request: Request) -> Reply:
        rows = [
            {"ID": c.smspool_id, "name": c.name, "short_name": c.iso, "region": c.region}
            for c in catalog.COUNTRIES
            if c.smspool_id is not None
        ]
        return json_reply(200, rows)

    def services(self, request: Request) -> Reply:
        country = (
            catalog.smspool_country(request.value("country")) if request.value("country") else None
        )
        offered = {s for s, iso in catalog.offers(P) if country is None or iso == country.iso}
        rows = [
            {"ID": s.smspool_id, "name": s.name, "favourite": 0}
            for s in sorted(catalog.SERVICES, key=lambda s: s.name.lower())
            if s.smspool_id is not None and s.slug in offered
        ]
        return json_reply(200, rows)

    def pools(self, request: Request) -> Reply:
        return json_reply(200, [{"ID": pid, "name": name} for pid, name, _f, _r in catalog.POOLS])

    def _service_param(self, request: Request) -> catalog.ServiceInfo | Reply:
        raw = request.value("service")
        service = catalog.smspool_service(raw) if raw else None
        return service if service is not None else missing("service")

    def valid_pools(self, request: Request) -> Reply:
        service = self._service_param(request)
        if isinstance(service, Reply):
            return service
        country = catalog.smspool_country(request.value("country") or "")
        best: dict[int, Decimal] = {}
        for (slug, iso), offer in catalog.offers(P).items():
            if slug != service.slug or (country is not None and iso != country.iso):
                continue
            for pid, price, _stock, _rate in offer.pools:
                best[pid] = min(price, best.get(pid, price))
        rows = [
            {
                "pool": pid,
                "name": catalog.POOL_NAMES[pid],
                "custom_area": int(pid == 7),
                "price": money2(p),
            }
            for pid, p in sorted(best.items(), key=lambda item: (item[1], item[0]))
        ]
        return json_reply(200, rows)

    def _pair(self, request: Request) -> tuple[catalog.CountryInfo, catalog.ServiceInfo] | Reply:
        country = catalog.smspool_country(request.value("country") or "")
        service = catalog.smspool_service(request.value("service") or "")
        absent = [
            name for name, found in (("country", country), ("service", service)) if found is None
        ]
        if absent:
            return missing(*absent)
        assert country is not None and service is not None
        return country, service

    def price(self, request: Request) -> Reply:
        pair = self._pair(request)
        if isinstance(pair, Reply):
            return pair
        country, service = pair
        offer = catalog.offer(P, service.slug, country.iso)
        pools = list(offer.pools) if offer else []
        if request.value("pool"):
            pool = catalog.smspool_pool(request.value("pool"))
            if pool is None:
                return missing("country")  # what the live API answers for an unknown pool
            pools = [p for p in pools if p[0] == pool]
        if not pools:
            return json_reply(
                404, {"success": 0, "message": "No price was found for this query.", "price": 0}
            )
        pid, low, _stock, rate = pools[0]
        high = max(p[1] for p in pools)
        return json_reply(
            200,
            {"pool": pid, "high_price": money2(high), "price": money2(low), "success_rate": rate},
        )

    def pricing(self, request: Request) -> Reply:
        country = (
            catalog.smspool_country(request.value("country")) if request.value("country") else None
        )
        service = (
            catalog.smspool_service(request.value("service")) if request.value("service") else None
        )
        pool = catalog.smspool_pool(request.value("pool")) if request.value("pool") else None
        cap = _decimal(request.value("max_price"))
        rows = []
        for (slug, iso), offer in catalog.offers(P).items():
            if (country and iso != country.iso) or (service and slug != service.slug):
                continue
            info, where = catalog.SERVICE_BY_SLUG[slug], catalog.COUNTRY_BY_ISO[iso]
            for pid, price, _stock, _rate in offer.pools:
                if (pool is not None and pid != pool) or (cap is not None and price > cap):
                    continue
                rows.append(
                    {
                        "service": info.smspool_id,
                        "service_name": info.name,
                        "country": where.smspool_id,
                        "country_name": where.name,
                        "short_name": iso,
                        "pool": pid,
                        "price": money2(price),
                    }
                )
        return json_reply(200, rows)

    def _per_country(
        self, service: catalog.ServiceInfo
    ) -> list[tuple[catalog.CountryInfo, catalog.Offer]]:
        found = [
            (catalog.COUNTRY_BY_ISO[iso], offer)
            for (slug, iso), offer in catalog.offers(P).items()
            if slug == service.slug
        ]
        return sorted(found, key=lambda item: item[0].smspool_id or 0)

    def suggested_countries(self, request: Request) -> Reply:
        service = self._service_param(request)
        if isinstance(service, Reply):
            return service
        rows = [
            {
                "pool": offer.pools[0][0],
                "country_id": country.smspool_id,
                "name": country.name,
                "short_name": country.iso,
                "price": money2(offer.price),
            }
            for country, offer in self._per_country(service)
            if offer.stock > 0 and not self.state.config.is_out_of_stock(P, country.iso)
        ]
        return json_reply(200, rows)

    def success_rate(self, request: Request) -> Reply:
        service = self._service_param(request)
        if isinstance(service, Reply):
            return service
        rows = [
            {
                "country": country.smspool_id,
                "success_rate": str(offer.success_rate),
                "price": money2(max(p[1] for p in offer.pools)),
                "low_price": money2(offer.price),
                "country_id": country.smspool_id,
                "name": country.name,
                "short_name": country.iso,
            }
            for country, offer in self._per_country(service)
        ]
        return json_reply(200, rows)

    def _stock_rows(self, request: Request):
        country = (
            catalog.smspool_country(request.value("country")) if request.value("country") else None
        )
        service = (
            catalog.smspool_service(request.value("service")) if request.value("service") else None
        )
        pool = catalog.smspool_pool(request.value("pool")) if request.value("pool") else None
        for (slug, iso), offer in catalog.offers(P).items():
            if (country and iso != country.iso) or (service and slug != service.slug):
                continue
            sold_out = self.state.config.is_out_of_stock(P, iso)
            for pid, price, stock, _rate in offer.pools:
                if pool is None or pid == pool:
                    yield slug, iso, pid, price, 0 if sold_out else stock

    def stock(self, request: Request) -> Reply:
        amount = sum(row[4] for row in self._stock_rows(request))
        return json_reply(200, {"success": 1, "amount": amount})

    def all_stock(self, request: Request) -> Reply:
        updated = plain_time(self.state.now() - 60)
        rows = []
        for slug, iso, pid, price, stock in self._stock_rows(request):
            service, country = catalog.SERVICE_BY_SLUG[slug], catalog.COUNTRY_BY_ISO[iso]
            rows.append(
                {
                    "country": country.smspool_id,
                    "country_name": country.name,
                    "service": service.smspool_id,
                    "service_name": service.name,
                    "pool": pid,
                    "pool_name": catalog.POOL_NAMES[pid],
                    "stock": stock,
                    "price": money2(price),
                    "last_update": updated,
                }
            )
        return json_reply(200, rows)

    # --- account and orders -------------------------------------------------------------
    def balance(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        return json_reply(200, {"balance": money2(account.balance)})

    def purchase(self, request: Request) -> Reply:
        account = self._account(request)
        pair = self._pair(request)
        if isinstance(pair, Reply):
            return pair
        country, service = pair
        offer = catalog.offer(P, service.slug, country.iso)
        candidates = list(offer.pools) if offer else []
        if request.value("pool"):
            pool = catalog.smspool_pool(request.value("pool"))
            if pool is None:
                return missing("pool")
            candidates = [c for c in candidates if c[0] == pool]
        if request.value("pricing_option") == "1":  # 1 = highest success rate
            candidates.sort(key=lambda c: (-c[3], c[1]))
        cap = _decimal(request.value("max_price"))
        if cap is not None and candidates and all(c[1] > cap for c in candidates):
            return json_reply(
                422,
                {
                    "success": 0,
                    "message": "We could not find a suitable pool below the price of: "
                    + request.value("max_price"),
                    "type": "PRICE_NOT_FOUND",
                },
            )
        if cap is not None:
            candidates = [c for c in candidates if c[1] <= cap]
        sold_out = self.state.config.is_out_of_stock(P, country.iso)
        in_stock = [c for c in candidates if c[2] > 0 and not sold_out]
        if not in_stock:
            return out_of_stock([c[0] for c in candidates] or [0])
        quantity = self._quantity(request)
        if quantity is None:
            return missing("quantity")
        account_balance = account.balance
        pid, price, _stock, _rate = in_stock[0]
        bodies = []
        for _ in range(quantity):
            try:
                order = self.state.create_order(
                    account, service=service.slug, country=country.iso, price=price, pool=pid
                )
            except SandboxError:
                if not bodies:
                    return balance_error(pid, price, account_balance)
                break  # the balance ran out part way: the numbers bought so far
            bodies.append(self._purchase_body(order, country, service, pid, price))
        # One number: the documented object. Several (`quantity`, whose answer is
        # not documented): a list of those objects, one per number.
        return json_reply(200, bodies[0] if quantity == 1 else bodies)

    def _quantity(self, request: Request) -> int | None:
        """How many numbers to buy: `quantity` (1 to 100) in the Postman dialect, whose
        collection lists it; always 1 in the seed dialect, whose endpoint page does not
        (the field is ignored there). None for a value that is not such a number."""
        text = request.value("quantity")
        if self._seed(request) or not text:
            return 1
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 100:
            return None
        return int(text)

    def _purchase_body(self, order: Order, country, service, pid: int, price: Decimal) -> dict:
        pool_name = catalog.POOL_NAMES[pid]
        return {
            "success": 1,
            "number": int(order.e164),
            "cc": order.dial,
            "phonenumber": order.phone,
            "order_id": order.id,
            "country": country.name,
            "service": service.name,
            "pool": pid,
            "expires_in": seconds_left(order.expires_at, order.created_at),
            "expiration": int(order.expires_at),
            "message": f"You have succesfully ordered a {service.name} number from pool: "
            f"{pool_name} for {money2(price)}.",
            "cost": money2(price),
            "cost_in_cents": int(price * 100),
        }

    def check(self, request: Request) -> Reply:
        account = self._account(request)
        order = self._order(request, account, "We could not find this order!")
        if order.retry_pending and self._seed(request):
            return json_reply(200, _seed_resend_check(order))
        return json_reply(200, self._check_body(order))

    def _check_body(self, order: Order) -> dict:
        now = self.state.now()
        status = STATUS_CODE[order.status]
        expiration = int(order.expires_at)
        if status in (3, 4) and order.messages:
            self.state.mark_fetched(order)
            body = {
                "status": status,
                "sms": order.code,
                "full_sms": order.last_message.text,
                "expiration": expiration,
            }
            if status == 4:
                body.update({"message": "resend", "resend": 0})
            return body
        if status == 6:
            return {
                "status": 6,
                "message": "This order has been refunded",
                "resend": 0,
                "expiration": expiration,
                "time_left": seconds_left(order.expires_at, now),
            }
        return {
            "status": 1,
            "resend": 0,
            "expiration": expiration,
            "time_left": seconds_left(order.expires_at, now),
        }

    def _row(self, order: Order, now: float) -> dict:
        """One order as request/active and request/history list it."""
        if order.messages:
            self.state.mark_fetched(order)
        last = order.last_message
        return {
            "timestamp": plain_time(order.created_at),
            "cost": money2(order.price),
            "order_code": order.id,
            "phonenumber": order.phone,
            "code": order.code or "0",
            "full_code": last.text if last else "",
            "short_name": order.country,
            "service": catalog.SERVICE_BY_SLUG[order.service].name,
            "status": STATUS_WORD[order.status],
            "pool": order.pool,
            "expiry": int(order.expires_at),
            "time_left": seconds_left(order.expires_at, now),
        }

    def active(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        now = self.state.now()
        rows = [self._row(o, now) for o in reversed(account.open_orders.values())]
        for row in rows:
            row.pop("pool")
        return json_reply(200, rows)

    def history(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        now = self.state.now()
        search = request.value("search").strip().lower()
        start = _int(request.value("start"), 0)
        length = _int(request.value("length"), 1000)
        orders = [o for o in reversed(account.orders.values()) if not o.archived]
        if search:
            orders = [o for o in orders if search in _haystack(o)]
        rows = []
        for order in orders[start : start + length]:
            row = self._row(order, now)
            row["completed_on"] = plain_time(
                order.closed_at or (order.messages[0].delivered_at if order.messages else None)
            )
            rows.append(row)
        return json_reply(200, rows)

    def archive(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        for order in account.orders.values():
            if not order.is_open:
                order.archived = True
        return json_reply(
            200, {"success": 1, "message": "All your inactive orders have been archived."}
        )

    def cancel(self, request: Request) -> Reply:
        account = self._account(request)
        order = self._order(request, account, "We could not find this order!")
        try:
            refund = self.state.cancel(order)
        except SandboxError as exc:
            if exc.reason == "locked":
                return fail(400, self.state.rng.choice(LOCKED_WORDING))
            return fail(400, "This order has already been completed or refunded.")
        return json_reply(
            200,
            {
                "success": 1,
                "message": "The order has been cancelled, and you have been refunded "
                f"{money2(refund)} dollars.",
            },
        )

    def cancel_all(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        refunded = []
        for order in list(account.open_orders.values()):
            try:
                self.state.cancel(order)
            except SandboxError:
                continue
            refunded.append(order.id)
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your active orders have been refunded",
                "refunded_orders": refunded,
            },
        )

    def resend(self, request: Request) -> Reply:
        account = self._account(request)
        if not request.value("orderid"):
            return json_reply(
                400,
                {
                    "success": 0,
                    "errors": [
                        {
                            "message": "You are missing a required parameter for this request.",
                            "param": "orderid",
                        }
                    ],
                },
            )
        order = self._order(request, account, "This order could not be found.")
        if self._seed(request):
            return self._resend_in_place(order)
        try:
            fresh = self.state.resend_smspool(order)
        except SandboxError as exc:
            if exc.reason == "no_sms":
                return fail(400, "You can only re-send to a phonenumber that has received a SMS")
            return fail(
                400,
                "This phonenumber is not available for re-send, please keep in mind that one-time "
                "phonenumbers have no guarantee for resends.",
            )
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your number has been requested again!",
                "order_id": fresh.id,
                "charge": 0,
            },
        )

    def _resend_in_place(self, order: Order) -> Reply:
        """The endpoint page's re-send: the same order waits again, nothing is charged."""
        try:
            self.state.resend_smspool_in_place(order)
        except SandboxError:
            return json_reply(400, SEED_NOT_RESENT)
        return json_reply(200, SEED_RESENT)

    def check_resend(self, request: Request) -> Reply:
        account = self._account(request)
        order = self._order(request, account, "We could not find this order.")
        if not order.messages or order.status not in (RECEIVED, FINISHED):
            return fail(400, "This number cannot be resent at the moment, please try again later.")
        resends, cursor = 0, order
        while cursor.resent_from:
            resends += 1
            cursor = self.state.orders[(P, cursor.resent_from)]
        # Re-sends stay possible for 120 upstream hours after the purchase.
        elapsed = (self.state.now() - cursor.created_at) * self.state.config.time_scale
        hours = int(120 - elapsed / 3600)
        return json_reply(
            200,
            {
                "success": 1,
                "message": "This phonenumber is available for resend!",
                "resends": resends,
                "resendCost": 0,
                "expires_in_hour": max(0, hours),
            },
        )

    def activate(self, request: Request) -> Reply:
        """Pool Foxtrot only: keep the number for later re-sends (no refund after)."""
        account = self._account(request)
        order = self._order(request, account, "We could not find this order!")
        if order.pool != 7:
            return fail(400, "You can only activate orders from pool: 7")
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your order has been activated, you can now use resend on it.",
            },
        )

    def reactivate(self, request: Request) -> Reply:
        account = self._account(request)
        self._order(request, account, "We could not find this order!")
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your order has been reactivated, please head to your dashboard "
                "to view your order!",
            },
        )

    def clear_cache(self, request: Request) -> Reply:
        self._account(request)
        return json_reply(200, {"success": 1, "message": "Orders cleared successfully."})

    # --- rentals ------------------------------------------------------------------------
    def rental_products(self, request: Request) -> Reply:
        kind = request.value("type")
        products = catalog.SMSPOOL_RENTALS
        if self._seed(request):
            return _seed_products(products, kind)
        if kind:
            if kind not in ("0", "1"):
                return fail(404, "No available rentals found for your search.")
            products = [p for p in products if p.extendable == (kind == "1")]
        rows = [_product_row(p) for p in products]
        return json_reply(200, {"success": 1, "data": rows})

    def _product(self, request: Request) -> catalog.SmspoolRental | None:
        raw = request.value("id")
        return catalog.SMSPOOL_RENTAL_BY_ID.get(int(raw)) if raw.isdigit() else None

    def rental_pricing(self, request: Request) -> Reply:
        product = self._product(request)
        if product is None:
            return fail(
                400,
                BAD_RENTAL_ID,
            )
        return json_reply(200, {"pricing": product.pricing, "extend": product.extend})

    def rental_stock(self, request: Request) -> Reply:
        product = self._product(request)
        if product is None:
            return fail(
                400,
                BAD_RENTAL_ID,
            )
        count = 0 if self.state.config.is_out_of_stock(P, product.iso) else product.stock
        return json_reply(200, {"success": 1, "count": count})

    def rent(self, request: Request) -> Reply:
        account = self._account(request)
        product = self._product(request)
        if product is None:
            return fail(
                400,
                BAD_RENTAL_ID,
            )
        days = request.value("days").strip()
        if days not in product.pricing:
            return fail(
                400,
                BAD_DAYS + " ".join(product.pricing),
            )
        if self.state.config.is_out_of_stock(P, product.iso):
            return fail(400, "This rental is currently out of stock!")
        service = (
            catalog.smspool_service(request.value("service_id"))
            if request.value("service_id")
            else None
        )
        price = Decimal(product.pricing[days])
        if service is not None and product.single_service and days in product.single_service:
            price = Decimal(product.single_service[days])  # one service only: half price
        try:
            rental = self.state.create_rental(
                account,
                country=product.iso,
                service=service.slug if service else "",
                price=price,
                duration=int(days) * DAY,
                product=str(product.id),
                needs_wake=True,
                days=int(days),
            )
        except SandboxError:
            return fail(400, _top_up(price, account.balance))
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your rental has been ordered, it will take upto 24 hours to activate "
                "your rental although usually your rental will be issued instantly.",
                "phonenumber": rental.e164,
                "days": rental.days,
                "rental_code": rental.id,
                "expiry": int(rental.expires_at),
            },
        )

    def _rental(self, request: Request, account: Account, not_found: str) -> Rental:
        """The rental named by `rental_code`; raises Refusal when missing or unknown."""
        code = request.value("rental_code")
        if not code:
            raise Refusal(missing("rental_code"))
        rental = self.state.rental(P, account.api_key, code)
        if rental is None:
            raise Refusal(fail(404, not_found))
        return rental

    def rental_messages(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "No rental was found!")
        self.state.mark_rental_fetched(rental)
        messages = [
            {
                "ID": i,
                "message": m.text,
                "sender": m.sender,
                "timestamp": plain_time(m.delivered_at),
            }
            for i, m in enumerate(rental.messages, start=1)
        ]
        source = catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)].pool
        return json_reply(200, {"success": 1, "messages": messages, "source": source})

    def rental_status(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "No rental was found!")
        # Asking for the status is what wakes a sleeping SMSPool line; the answer
        # that wakes it still says 0 ("available must be 1 before you send a
        # code"), the next one says 1.
        woke = self.state.wake(rental)
        available = self.state.is_available(rental) and not woke
        active_for = seconds_left(rental.available_until or 0, self.state.now()) if available else 0
        return json_reply(
            200,
            {
                "success": 1,
                "status": {
                    "available": int(available),
                    "phonenumber": rental.e164,
                    "activeFor": active_for,
                    "expiry": int(rental.expires_at),
                    "auto_extend": int(rental.auto_extend),
                },
            },
        )

    def rental_refund(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "This rental could not be found.")
        if rental.status == RENTAL_REFUNDED:
            return fail(400, "This number could not be refunded as you already have refunded it.")
        hours, min_days, refused = self._refund_rule(request, rental)
        refundable = (
            rental.status == RENTAL_ACTIVE
            and hours > 0
            and rental.days >= min_days
            and self.state.now() - rental.created_at <= self.state.scaled(hours * 3600)
            and not rental.messages
        )
        if not refundable:
            return fail(400, refused)
        self.state.refund_rental(rental)
        return json_reply(200, {"success": 1, "message": "Your rental has been refunded!"})

    def _refund_rule(self, request: Request, rental: Rental) -> tuple[int, int, str]:
        """(hours, minimum days, refusal text) a refund of `rental` follows.

        The collection states it per product (refund_within, refund_min_days);
        the endpoint page has one rule for all: 12 hours, before any message.
        """
        if self._seed(request):
            return SEED_REFUND_HOURS, 0, SEED_REFUND_REFUSED
        product = catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)]
        refused = (
            f"You cannot refund a rental after {product.refund_within} hours "
            "or after receiving one message."
        )
        return product.refund_within, product.refund_min_days, refused

    def rental_extend(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "This rental could not be found.")
        product = catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)]
        if not product.extend or rental.status != RENTAL_ACTIVE:
            return fail(
                400, "Something went wrong on extending your rental, you have NOT been charged!"
            )
        days = request.value("days").strip()
        if days not in product.extend:
            return fail(
                400,
                BAD_DAYS + " ".join(product.extend),
            )
        price = Decimal(product.extend[days])
        try:
            self.state.extend_rental(rental, price, int(days) * DAY, "extend")
        except SandboxError:
            return fail(400, _top_up(price, account.balance))
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your rental has been succesfully extended!",
                "expiration_date": int(rental.expires_at),
            },
        )

    def rental_auto_extend(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "No rental was found!")
        if not catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)].extend:
            return fail(400, "This rental cannot be extended.")
        rental.auto_extend = not rental.auto_extend  # the live API toggles
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your auto extension status has been updated.",
                "auto_extend": int(rental.auto_extend),
            },
        )

    def rentals(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        rows = []
        for rental in account.rentals.values():
            if rental.status != RENTAL_ACTIVE:
                continue
            product = catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)]
            rows.append(
                {
                    "rental": product.id,
                    "type": int(product.extendable),
                    "rental_code": rental.id,
                    "phonenumber": rental.e164,
                    "expiration_date": int(rental.expires_at),
                    "country_name": rental.country,
                    "source": product.pool,
                    "state": "Active",
                }
            )
        return json_reply(200, rows)

    def rental_info(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "No rental was found!")
        product = catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)]
        service = catalog.SERVICE_BY_SLUG.get(rental.service)
        return json_reply(
            200,
            {
                "refund": int(rental.status == RENTAL_REFUNDED),
                "rental": product.id,
                "price": money2(rental.price),
                "type": int(product.extendable),
                "auto_extend": int(rental.auto_extend),
                "rental_code": rental.id,
                "phonenumber": rental.e164,
                "expiration_date": int(rental.expires_at),
                "country_name": rental.country,
                "source": product.pool,
                "service": service.smspool_id if service else None,
                "service_name": service.name if service else "",
            },
        )

    def rental_services(self, request: Request) -> Reply:
        raw = request.value("rental")
        product = catalog.SMSPOOL_RENTAL_BY_ID.get(int(raw)) if raw.isdigit() else None
        if product is None:
            return missing("rental")
        rows = [
            {"ID": s.smspool_id, "name": s.name, "pool": 1}
            for s in sorted(catalog.SERVICES, key=lambda s: s.name.lower())
            if s.smspool_id is not None
        ]
        return json_reply(200, rows)

    def rental_reset(self, request: Request) -> Reply:
        account = self._account(request)
        rental = self._rental(request, account, "No rental was found!")
        if catalog.SMSPOOL_RENTAL_BY_ID[int(rental.product)].pool != 7:
            return fail(400, "You cannot reset the port for this type of rental.")
        return json_reply(
            200,
            {
                "success": 1,
                "message": "Your port has been reset succesfully, please wait up to 3 minutes "
                "for incoming messages.",
            },
        )

    def rental_history(self, request: Request) -> Reply:
        account = self._account(request)
        self.state.settle_account(account)
        actions = {
            "rental": "activate",
            "extend": "extend",
            "auto-extend": "auto-extend",
            "rental refund": "refund",
        }
        rows = [
            {
                "ID": i,
                "rental": entry.ref,
                "action": actions[entry.memo],
                "cost": money2(entry.amount),
                "timestamp": plain_time(entry.at),
            }
            for i, entry in enumerate(account.ledger, start=1)
            if entry.ref in account.rentals and entry.memo in actions
        ]
        return json_reply(200, rows[::-1])


# --- helpers ------------------------------------------------------------------------------
def out_of_stock(pools: list[int]) -> Reply:
    per_pool = {}
    for pid in pools:
        name = catalog.POOL_NAMES[pid]
        per_pool[name] = {
            "success": 0,
            "message": f"<p><b>{name}</b> <p>{NO_STOCK}</p></p>",
            "errors": [{"message": NO_STOCK}],
            "type": "OUT_OF_STOCK",
        }
    first = catalog.POOL_NAMES[pools[0]]
    return json_reply(
        422,
        {
            "message": f"<p>Pool <b>{first}</b>: <p>{NO_STOCK}</p></p>",
            "success": 0,
            "pools": per_pool,
            "errors": [{"message": NO_STOCK}],
            "type": "OUT_OF_STOCK",
        },
    )


def balance_error(pool: int, price: Decimal, balance: Decimal) -> Reply:
    name = catalog.POOL_NAMES[pool]
    text = (
        f"Insufficient balance, the price is: {money2(price)} "
        f"while you only have: {money2(balance)}"
    )
    return json_reply(
        422,
        {
            "message": f"<p>Pool <b>{name}</b>: {text}</p>",
            "success": 0,
            "pools": {
                name: {
                    "success": 0,
                    "message": f"<p><b>{name}</b> {text}</p>",
                    "type": "BALANCE_ERROR",
                }
            },
            "type": "BALANCE_ERROR",
        },
    )


def _top_up(price: Decimal, balance: Decimal) -> str:
    return (
        "You do not have enough balance, please top up your account with "
        f"{money2(price - balance)} "
        "dollars in order to purchase this rental."
    )


def _product_row(product: catalog.SmspoolRental) -> dict:
    country = catalog.COUNTRY_BY_ISO[product.iso]
    single = json.dumps(product.single_service) if product.single_service else None
    return {
        "ID": product.id,
        "name": country.name,
        "tag": country.name,
        "region": country.region,
        "pricing": product.pricing,
        "priority": product.priority,
        "pool": product.pool,
        "single_service": single,
        "single_service_extend": single if product.extend else None,
        "is_refundable": int(product.refund_within > 0),
        "refund_within": product.refund_within,
        "refund_min_days": product.refund_min_days,
    }


def _seed_products(products: list[catalog.SmspoolRental], kind: str) -> Reply:
    """rental/retrieve_all as the endpoint page shows it: keyed by rental id,
    pricing as JSON inside a string, no refund fields; `type` is required."""
    if kind not in ("0", "1"):
        return fail(400, SEED_NO_TYPE)
    rows = {
        str(p.id): {
            "name": catalog.COUNTRY_BY_ISO[p.iso].name,
            "region": catalog.COUNTRY_BY_ISO[p.iso].region,
            "pricing": json.dumps(p.pricing, separators=(",", ":")),
        }
        for p in products
        if p.extendable == (kind == "1")
    }
    return json_reply(200, rows)


def _seed_resend_check(order: Order) -> dict:
    """sms/check while a same-order re-send waits: the endpoint page's status 4."""
    return {"status": 4, "message": "resend", "resend": 0, "expiration": int(order.expires_at)}


def plain_time(ts: float | None) -> str:
    """A zone-less "YYYY-MM-DD HH:MM:SS" in SMSPool's server time (CET/CEST), "" for None."""
    return "" if ts is None else _server_time(int(ts))


@lru_cache(maxsize=65536)
def _server_time(seconds: int) -> str:
    # Cached like base.plain_time: bulk lists format the same timestamps on every poll.
    return datetime.fromtimestamp(seconds, SERVER_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _decimal(raw: str) -> Decimal | None:
    if not raw:
        return None
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        return None


def _int(raw: str, default: int) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return default


def _haystack(order: Order) -> str:
    service = catalog.SERVICE_BY_SLUG[order.service].name
    return f"{order.id} {order.phone} {service} {order.country}".lower()
