"""NumPool: REST JSON under /api/v1, `X-API-Key` auth, `{"error": "..."}` failures.

Wire format: numpool-api.txt. Activations (buy, poll, cancel) and long-term US
rentals (non-refundable, not extendable). Errors are non-2xx statuses with an
`error` message; 429 and 5xx are the Transport's business. The order and rental
lists have no documented shape, so they are read tolerantly (a bare list or a
list wrapped in an object).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from providers.clients.base import (
    ProviderClient,
    expect,
    from_iso,
    phone_text,
    plain_text,
    to_decimal,
    to_decimal_or_none,
    to_int_or_none,
)
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    ProviderError,
    RateLimited,
    Unsupported,
    UpstreamUnavailable,
)
from providers.http import Call, Response
from providers.types import (
    ActivationType,
    Balance,
    CancelResult,
    Capability,
    Catalog,
    Country,
    Message,
    OrderState,
    OrderStatus,
    Purchase,
    PurchaseRequest,
    Quote,
    RentalOffer,
    RentalPurchase,
    RentalRequest,
    RentalState,
    Service,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Rental lengths: the API names them, RentalRequest counts days.
DURATION_KEYS: dict[int, str] = {
    1: "oneDay",
    3: "threeDay",
    7: "sevenDay",
    14: "fourteenDay",
    30: "thirtyDay",
}
DAYS_BY_KEY: dict[str, int] = {key: days for days, key in DURATION_KEYS.items()}

# The documented statuses are pending (buy), waiting, received and cancelled;
# the others are the obvious words a future API version would use.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "pending": OrderStatus.WAITING,
    "waiting": OrderStatus.WAITING,
    "received": OrderStatus.RECEIVED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "completed": OrderStatus.COMPLETED,
    "finished": OrderStatus.COMPLETED,
    "refunded": OrderStatus.REFUNDED,
}

# NumPool documents no cancel lock; when it reports one without a wait, ask
# the caller to come back in a minute.
DEFAULT_CANCEL_WAIT = 60.0
# Orders scanned by list_active_orders: activations live minutes, so the
# newest hundred cover every open one at any realistic volume.
ACTIVE_SCAN_LIMIT = 100

_OUT_OF_STOCK = re.compile(
    r"out of stock|sold out|no stock|no numbers\b|"
    r"no (?:free |available )?numbers? (?:is |are )?(?:available|in stock|left)",
    re.IGNORECASE,
)
_TOO_EARLY = re.compile(r"too (?:early|soon)", re.IGNORECASE)
_NOT_YET = re.compile(r"\byet\b|\bwait\b|\bin \d+", re.IGNORECASE)
_LOW_BALANCE = re.compile(r"insufficient|not enough (?:balance|funds|money)", re.IGNORECASE)
_WAIT = re.compile(r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|mins?|minutes?)\b", re.IGNORECASE)


class NumPoolClient(ProviderClient):
    kind = "numpool"
    name = "NumPool"
    default_base_url = "https://numpool.com/api/v1"
    default_currency = "USD"
    rate_limit = (60, 60.0)
    # No BULK_ACTIVE: the order list is undocumented, so the sync engine may
    # use list_orders/list_active_orders opportunistically but must not rely on it.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OPERATOR, Capability.RENTALS}
    )

    # --- plumbing ----------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> T:
        """Send one call and return `parse(body)`; raise the mapped ProviderError."""
        call = Call(
            method,
            f"{self.base_url}{path}",
            params=params,
            json=json,
            headers={"X-API-Key": self.api_key, "Accept": "application/json"},
            idempotent=idempotent,
        )
        return self._send(call, lambda response: parse(read_body(response)))

    # --- account -------------------------------------------------------------------
    def get_balance(self) -> Balance:
        """Return the wallet balance (USD)."""
        return self._request("GET", "/balance", self._parse_balance)

    def _parse_balance(self, body: Any) -> Balance:
        expect(isinstance(body, dict), "balance")
        currency = plain_text(body.get("currency")) or self.currency
        return Balance(to_decimal(body.get("balance"), what="balance"), currency.upper())

    # --- catalog -------------------------------------------------------------------
    def list_services(self, country_id: str = "") -> list[Service]:
        """Return every service; NumPool cannot filter by country, so `country_id` is ignored."""
        return self._request("GET", "/services", parse_services)

    def list_countries(self) -> list[Country]:
        """Return every country NumPool knows (id and name; no ISO code in this list)."""
        return self._request("GET", "/countries", parse_countries)

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Return price and stock per country for one service, or for all services.

        Without `service_id` this costs one request per service plus one (about 30
        of the 60 requests NumPool allows a minute); prefer fetch_catalog's schedule.
        """
        service_ids = [service_id] if service_id else [s.id for s in self.list_services()]
        quotes = [q for sid in service_ids for _, q in self._service_countries(sid) if q]
        return [q for q in quotes if not country_id or q.country_id == country_id]

    def fetch_catalog(self) -> Catalog:
        """Return services, countries (with ISO codes) and every price.

        Costs 2 + one request per service (about 30 today, half a minute of
        NumPool's budget): run it from the scheduled catalog sync only.
        """
        services = self.list_services()
        countries = {c.id: c for c in self.list_countries()}
        quotes: list[Quote] = []
        for service in services:
            for country, quote_ in self._service_countries(service.id):
                countries[country.id] = merge_country(countries.get(country.id), country)
                if quote_ is not None:
                    quotes.append(quote_)
        return Catalog(countries=list(countries.values()), services=services, quotes=quotes)

    def _service_countries(self, service_id: str) -> list[tuple[Country, Quote | None]]:
        """GET /countries?service=…: each country (with its flag ISO) and its quote, if priced."""
        return self._request(
            "GET",
            "/countries",
            lambda body: self._parse_service_countries(body, service_id),
            params={"service": service_id},
        )

    def _parse_service_countries(
        self, body: Any, service_id: str
    ) -> list[tuple[Country, Quote | None]]:
        rows = []
        for row in items_of(body, "countries"):
            country = parse_country(row)
            rows.append((country, self._parse_quote(row, service_id, country.id)))
        return rows

    def _parse_quote(self, row: dict, service_id: str, country_id: str) -> Quote | None:
        """The row's offer; None when it has no price (listed, but nothing to buy)."""
        if row.get("price") is None:
            return None
        return Quote(
            service_id=service_id,
            country_id=country_id,
            price=to_decimal(row.get("price"), what="price"),
            currency=(plain_text(row.get("currency")) or self.currency).upper(),
            stock=to_int_or_none(row.get("stock")),
        )

    # --- activations -------------------------------------------------------------------
    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Buy one number; return it as a one-item list.

        Raises Unsupported for options NumPool lacks (quantity > 1, max price,
        pools, area codes, voice), InvalidRequest for a non-numeric country id.
        The call is never retried: NumPool has no idempotency key.
        """
        check_purchase_request(request)
        body: dict[str, Any] = {"service": request.service_id, "country": country_number(request)}
        if request.operator or request.carrier:
            # NumPool's `operator` is documented as a "carrier preference".
            body["operator"] = request.operator or request.carrier
        return self._request("POST", "/buy", self._parse_purchase, json=body, idempotent=False)

    def _parse_purchase(self, body: Any) -> list[Purchase]:
        expect(isinstance(body, dict), "purchase result")
        order_id = plain_text(body.get("order_id") or body.get("id"))
        expect(bool(order_id), "purchase result without an order id")
        raw_status = plain_text(body.get("status"))
        return [
            Purchase(
                order_id=order_id,
                phone_number=phone_text(body.get("number")),
                cost=to_decimal_or_none(body.get("cost")),
                currency=self.currency,
                expires_at=from_iso(body.get("expires_at")),
                status=ORDER_STATUSES.get(raw_status.lower(), OrderStatus.WAITING),
                raw_status=raw_status,
            )
        ]

    def get_order(self, order_id: str) -> OrderState:
        """Return one order's state (GET /sms/:id); NotFound when NumPool does not know it."""
        return self._request(
            "GET", f"/sms/{path_id(order_id)}", lambda body: self._parse_order(body, order_id)
        )

    def list_orders(self, limit: int = 20, offset: int = 0) -> list[OrderState]:
        """Return recent orders, newest first as NumPool sends them.

        The response shape is undocumented: a bare list or a list under
        "orders"/"data"/"items" is accepted; each item reads like a poll response.
        """
        return self._request(
            "GET",
            "/orders",
            lambda body: [self._parse_order(item) for item in items_of(body, "orders")],
            params={"limit": limit, "offset": offset},
        )

    def recent_orders(self, since: datetime) -> list[OrderState]:
        """The newest orders, ended ones included; NumPool's list carries no times, so
        `since` only bounds how many are read."""
        return self.list_orders(limit=ACTIVE_SCAN_LIMIT)

    def list_active_orders(self) -> list[OrderState]:
        """Return the open orders among the newest ACTIVE_SCAN_LIMIT, in one request.

        Raises Unsupported when the order list does not carry `status` and
        `code` (the documented API does not promise it does), so the caller
        falls back to polling each order.
        """
        return self._request(
            "GET",
            "/orders",
            self._parse_active_orders,
            params={"limit": ACTIVE_SCAN_LIMIT, "offset": 0},
        )

    def _parse_active_orders(self, body: Any) -> list[OrderState]:
        items = items_of(body, "orders")
        if not all("status" in item and "code" in item for item in items):
            self._unsupported("reading code and status from the order list")
        orders = [self._parse_order(item) for item in items]
        return [order for order in orders if not order.status.is_final]

    def _parse_order(self, body: Any, order_id: str = "") -> OrderState:
        expect(isinstance(body, dict), "order")
        order_id = plain_text(body.get("order_id") or body.get("id")) or order_id
        expect(bool(order_id), "order without an id")
        raw_status = plain_text(body.get("status"))
        code = plain_text(body.get("code"))
        cost = to_decimal_or_none(body.get("cost"))
        return OrderState(
            order_id=order_id,
            status=order_status(raw_status, arrived=bool(code)),
            raw_status=raw_status,
            code=code,
            full_text=plain_text(body.get("full_sms")),
            phone_number=phone_text(body.get("number")),
            expires_at=from_iso(body.get("expires_at")),
            cost=cost,
            currency=self.currency if cost is not None else "",
            service=plain_text(body.get("service")),
            country=plain_text(body.get("country")),
        )

    def cancel(self, order_id: str) -> CancelResult:
        """Cancel a pending order; return the refund.

        Raises CancelTooEarly (with retry_after) while NumPool locks the cancel,
        InvalidRequest once a code has arrived, NotFound for an unknown order.
        """
        return self._request(
            "POST",
            f"/cancel/{path_id(order_id)}",
            lambda body: self._parse_cancel(body, order_id),
            idempotent=False,
        )

    def _parse_cancel(self, body: Any, order_id: str) -> CancelResult:
        expect(isinstance(body, dict), "cancel result")
        if body.get("ok") is False:
            raise error_for(
                400, plain_text(body.get("error")) or "NumPool did not cancel the order."
            )
        refunded = to_decimal_or_none(body.get("refunded"))
        return CancelResult(
            order_id=plain_text(body.get("order_id")) or order_id,
            refunded=refunded,
            currency=self.currency if refunded is not None else "",
        )

    # --- rentals -------------------------------------------------------------------------
    def list_rental_offers(self, *, service_id: str = "") -> list[RentalOffer]:
        """Return one US rental offer per service (prices by days), or only `service_id`'s.

        Costs one request plus one per service listed.
        """
        names = self._request("GET", "/rentals/services", parse_rental_services)
        if service_id:
            names = {service_id: names.get(service_id, service_id)}
        offers = [self._rental_offer(sid, name) for sid, name in names.items()]
        return [offer for offer in offers if offer.durations]

    def _rental_offer(self, service_id: str, name: str) -> RentalOffer:
        durations = self._request(
            "GET", "/rentals/prices", parse_rental_prices, params={"service": service_id}
        )
        return RentalOffer(
            id=service_id,
            name=name,
            durations=durations,
            currency=self.currency,
            unit="day",
            extendable=False,
            refundable=False,
            country_iso="US",
            service_id=service_id,
        )

    def rent(self, request: RentalRequest) -> RentalPurchase:
        """Rent a US number for `request.duration` days (1, 3, 7, 14 or 30).

        Raises InvalidRequest for any other length. Never retried: a repeat
        would rent (and charge) twice.
        """
        key = DURATION_KEYS.get(request.duration)
        if key is None:
            days = ", ".join(str(d) for d in DURATION_KEYS)
            raise InvalidRequest(f"NumPool rents numbers for {days} days only.")
        body = {"service": request.service_id or request.offer_id, "duration": key}
        return self._request(
            "POST",
            "/rentals",
            lambda data: self._parse_rent(data, request.duration),
            json=body,
            idempotent=False,
        )

    def _parse_rent(self, body: Any, days: int) -> RentalPurchase:
        expect(isinstance(body, dict), "rental result")
        rental_id = plain_text(body.get("rental_id") or body.get("id"))
        expect(bool(rental_id), "rental result without an id")
        return RentalPurchase(
            rental_id=rental_id,
            phone_number=phone_text(body.get("number")),
            expires_at=from_iso(body.get("ends_at")),
            cost=to_decimal_or_none(body.get("cost")),
            currency=self.currency,
            duration=to_int_or_none(body.get("days")) or days,
            unit="day",
        )

    def list_rentals(self) -> list[RentalState]:
        """Return every rental on the account (a bare or wrapped list is accepted)."""
        return self._request(
            "GET",
            "/rentals",
            lambda body: [self._parse_rental(item) for item in items_of(body, "rentals")],
        )

    def get_rental(self, rental_id: str) -> RentalState:
        """Return one rental, found in the rental list; raise NotFound when absent."""
        for rental in self.list_rentals():
            if rental.rental_id == rental_id:
                return rental
        raise NotFound(f"NumPool has no rental {rental_id}.")

    def _parse_rental(self, item: dict) -> RentalState:
        rental_id = plain_text(item.get("rental_id") or item.get("id"))
        expect(bool(rental_id), "rental without an id")
        cost = to_decimal_or_none(item.get("cost"))
        return RentalState(
            rental_id=rental_id,
            phone_number=phone_text(item.get("number")),
            expires_at=from_iso(item.get("ends_at") or item.get("expires_at")),
            status=plain_text(item.get("status")).lower(),
            cost=cost,
            currency=self.currency if cost is not None else "",
        )

    def list_rental_messages(self, rental_id: str) -> list[Message]:
        """Return the rental's inbox, oldest first as NumPool sends it."""
        return self._request(
            "GET",
            f"/rentals/{path_id(rental_id)}/sms",
            lambda body: [parse_message(item) for item in items_of(body, "messages")],
        )


# --- request helpers ---------------------------------------------------------------------


def check_purchase_request(request: PurchaseRequest) -> None:
    """Raise Unsupported for options that would change what is bought or what it costs."""
    if request.quantity < 1:
        raise InvalidRequest("The quantity must be at least 1.")
    refused = {
        "more than one number per purchase": request.quantity > 1,
        "a maximum price": request.max_price is not None,
        "choosing a pool": bool(request.pool),
        "area codes": bool(request.area_codes),
        "voice activations": request.activation_type != ActivationType.SMS,
    }
    for what, asked in refused.items():
        if asked:
            raise Unsupported(f"NumPool does not support {what}.")


def country_number(request: PurchaseRequest) -> int:
    """The numeric country id NumPool's /buy expects; InvalidRequest otherwise."""
    text = request.country_id.strip()
    if not text.isdigit():
        raise InvalidRequest(f"NumPool country ids are numbers, not {text!r}.")
    return int(text)


def path_id(value: str) -> str:
    """An id made safe for a URL path segment; InvalidRequest when empty."""
    if not str(value).strip():
        raise InvalidRequest("An order or rental id is required.")
    return quote(str(value).strip(), safe="")


# --- response helpers ---------------------------------------------------------------------


def read_body(response: Response) -> Any:
    """Return the JSON body of a successful response; raise the mapped error otherwise."""
    if 200 <= response.status < 300:
        body = response.json()
        if isinstance(body, dict) and body.get("error") and body.get("ok") is not True:
            raise error_for(400, body.get("error"))  # a failure dressed as success
        return body
    try:
        body = response.json()
    except UpstreamUnavailable:
        body = None
    message = body.get("error") if isinstance(body, dict) else None
    raise error_for(response.status, message, retry_after=response.retry_after())


def error_for(status: int, message: Any, *, retry_after: float | None = None) -> ProviderError:
    """Map an HTTP status and NumPool's `error` message onto the taxonomy.

    The message decides first for the undocumented cases (out of stock, a
    cancel lock); then the status. A 400/404 without NumPool's JSON error is
    not NumPool speaking (a proxy, a wrong base URL): UpstreamUnavailable, so
    the sync engine never drops an order on a stray 404.
    """
    if isinstance(message, dict):  # {"error": {"message": ...}} is not documented, but cheap
        message = message.get("message")
    text = plain_text(message)
    if status in (401, 403):
        return AuthFailed(text or "NumPool rejected the API key.")
    if status == 402 or (text and _LOW_BALANCE.search(text)):
        return InsufficientBalance(text)
    if status == 429:
        return RateLimited(text, retry_after=retry_after)
    if not text:
        return UpstreamUnavailable(f"NumPool answered HTTP {status} without an error message.")
    if _OUT_OF_STOCK.search(text):
        return OutOfStock(text)
    if is_cancel_lock(text):
        return CancelTooEarly(text, retry_after=wait_seconds(text) or DEFAULT_CANCEL_WAIT)
    if status == 404:
        return NotFound(text)
    return InvalidRequest(text)


def is_cancel_lock(text: str) -> bool:
    """True for "cannot be cancelled yet", "too early", "cancel … wait 30 seconds"."""
    return bool(_TOO_EARLY.search(text) or ("cancel" in text.lower() and _NOT_YET.search(text)))


def wait_seconds(text: str) -> float | None:
    """Seconds named in a message ("try again in 45 seconds", "2 minutes"), or None."""
    match = _WAIT.search(text)
    if match is None:
        return None
    seconds = float(match.group(1))
    return seconds * 60 if match.group(2).lower().startswith("m") else seconds


def items_of(body: Any, key: str) -> list[dict]:
    """The list in `body` (bare, or under `key`/"data"/"items"); each item must be an object."""
    if isinstance(body, dict):
        wrapped = [body[k] for k in (key, "data", "items") if isinstance(body.get(k), list)]
        expect(bool(wrapped), f"{key} list")
        body = wrapped[0]
    expect(isinstance(body, list), f"{key} list")
    expect(all(isinstance(item, dict) for item in body), f"{key} entry")
    return body


def parse_services(body: Any) -> list[Service]:
    services = []
    for item in items_of(body, "services"):
        service_id = plain_text(item.get("id"))
        expect(bool(service_id), "service without an id")
        name = plain_text(item.get("name")) or service_id
        services.append(Service(id=service_id, name=name, code=service_id))
    return services


def parse_countries(body: Any) -> list[Country]:
    return [parse_country(item) for item in items_of(body, "countries")]


def parse_country(item: dict) -> Country:
    country_id = plain_text(item.get("id"))
    expect(bool(country_id), "country without an id")
    iso = plain_text(item.get("flag") or item.get("iso"))
    # `flag` is an ISO code in the docs; an emoji or a URL is not, so drop it.
    iso = iso.upper() if len(iso) == 2 and iso.isascii() and iso.isalpha() else ""
    return Country(id=country_id, name=plain_text(item.get("name")) or country_id, iso=iso)


def merge_country(known: Country | None, seen: Country) -> Country:
    """Keep the full list's name; take the ISO code from a per-service listing."""
    if known is None:
        return seen
    return known if known.iso or not seen.iso else replace(known, iso=seen.iso)


def parse_rental_services(body: Any) -> dict[str, str]:
    """Rental service codes mapped to display names, in NumPool's order."""
    names = {}
    for item in items_of(body, "services"):
        service_id = plain_text(item.get("service") or item.get("id"))
        expect(bool(service_id), "rental service without a code")
        names[service_id] = plain_text(item.get("name")) or service_id
    return names


def parse_rental_prices(body: Any) -> dict[int, Decimal]:
    """Days → price from `durations` (a list of {duration, days, price}, or a key → price map)."""
    expect(isinstance(body, dict), "rental prices")
    rows = body.get("durations")
    if isinstance(rows, dict):
        rows = [{"duration": key, "price": price} for key, price in rows.items()]
    expect(isinstance(rows, list), "rental durations")
    prices = {}
    for row in rows:
        expect(isinstance(row, dict), "rental duration")
        days = to_int_or_none(row.get("days")) or DAYS_BY_KEY.get(plain_text(row.get("duration")))
        if days is None or row.get("price") is None:
            continue  # a length we cannot name or a price not on offer
        prices[days] = to_decimal(row.get("price"), what="rental price")
    return prices


def parse_message(item: dict) -> Message:
    return Message(
        text=plain_text(item.get("body") or item.get("text")),
        code=plain_text(item.get("code")),
        sender=plain_text(item.get("from")),
        received_at=from_iso(item.get("at")),
        id=plain_text(item.get("id")),
    )


def order_status(raw: str, *, arrived: bool) -> OrderStatus:
    """The normalised status; a code in an open order means it was received."""
    status = ORDER_STATUSES.get(raw.lower())
    if status is None:
        log.warning("NumPool sent an unknown order status %r", raw[:40])
        status = OrderStatus.UNKNOWN
    if arrived and not status.is_final:
        return OrderStatus.RECEIVED
    return status
