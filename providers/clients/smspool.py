"""SMSPool (api.smspool.net): form-encoded POST, JSON answers, numeric order statuses.

Wire format: smspool-api-endpoints.txt, smspool-order-check-cancel.txt,
smspool-endpoints.md and the Postman examples in ../shared/provider-docs. The
facts this module leans on:

- Every call is a POST with the key both as the `key` form field and as a
  Bearer token (the collection sends both; some calls read only one).
- Success is decided by the HTTP status and a top-level `success: 0` or
  `errors`, never by `success == 1`: many successful bodies have no `success`
  at all, and purchase failures nest per-pool `success` flags that must be
  ignored.
- Failures come in three envelopes (`errors[]` with `param`, a flat
  `message`, the purchase shape with `type`), often with HTML in `message`.
- Money is mostly a decimal string, sometimes an int (whole dollars for
  rental pricing, cents in `cost_in_cents`); ids and phone numbers are kept
  as text.
- `"YYYY-MM-DD HH:MM:SS"` times carry no zone; they read as server-local
  Central European time. Unix seconds are UTC.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from providers.clients.base import (
    ProviderClient,
    digits,
    expect,
    flag,
    from_timestamp,
    to_decimal,
    to_decimal_or_none,
    to_int_or_none,
    to_text,
)
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    PriceTooHigh,
    ProviderError,
    RateLimited,
    UpstreamUnavailable,
    clean_message,
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
    Pool,
    PricingOption,
    Purchase,
    PurchaseRequest,
    Quote,
    RentalOffer,
    RentalPurchase,
    RentalRefund,
    RentalRequest,
    RentalState,
    ResendResult,
    Service,
)

log = logging.getLogger(__name__)

try:
    # The docs only say the zone-less times look "about one hour ahead of UTC"
    # in January captures: Central European time, with summer time assumed.
    SERVER_TZ: timezone | ZoneInfo = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without tz data
    SERVER_TZ = timezone(timedelta(hours=1), "CET")

SERVER_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d %B %Y %H:%M:%S", "%d %b %Y %H:%M:%S")

# The Postman collection (the newer official source, and the public SDK that
# mirrors it) says "0 cheapest / 1 best rate"; the older endpoint page says the
# opposite. We follow the collection, as the sandbox does; if live orders prove
# the page right, swap the two values here and nowhere else.
PRICING_OPTIONS: dict[PricingOption, str] = {
    PricingOption.CHEAPEST: "0",
    PricingOption.BEST_SUCCESS: "1",
}

# /sms/check reports a number (the status-code table), /request/active and
# /request/history a word. "completed" means a code arrived; the order can
# still be resent, so it is RECEIVED rather than final.
CHECK_STATUSES: dict[int, OrderStatus] = {
    1: OrderStatus.WAITING,  # pending
    2: OrderStatus.EXPIRED,
    3: OrderStatus.RECEIVED,  # completed
    4: OrderStatus.RESEND_REQUESTED,  # resend
    5: OrderStatus.CANCELLED,
    6: OrderStatus.REFUNDED,
    7: OrderStatus.WAITING,  # processing
    8: OrderStatus.WAITING,  # activating
}
WORD_STATUSES: dict[str, OrderStatus] = {
    "pending": OrderStatus.WAITING,
    "expired": OrderStatus.EXPIRED,
    "completed": OrderStatus.RECEIVED,
    "complete": OrderStatus.RECEIVED,
    "resend": OrderStatus.RESEND_REQUESTED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "processing": OrderStatus.WAITING,
    "activating": OrderStatus.WAITING,
}

# The purchase envelope's `type` is the most reliable signal there is.
TYPE_ERRORS: dict[str, type[ProviderError]] = {
    "OUT_OF_STOCK": OutOfStock,
    "BALANCE_ERROR": InsufficientBalance,
    "PRICE_NOT_FOUND": PriceTooHigh,
}

# SMSPool's own "not found" answers name what is missing. Documented bodies,
# all {"success": 0, "message": ...} with HTTP 404 unless noted:
#   "We could not find this order!"   sms/check (endpoint page), sms/cancel, sms/activate
#   "We could not find this order."   sms/check_resend
#   "This order could not be found."  sms/resend
#   "This rental could not be found." rental/refund, rental/extend
#   "No rental was found!"            rental/retrieve_messages, retrieve_status, reset, info
#   "No available rentals found for your search."  rental/retrieve_all
#   "We could not find your preorder!" preorder/check; "This preorder does not exist." (200)
#   "Cannot find this account."       business/user/update, business/user/history
# The same words inside an `errors[]` entry count too. A bare "Not found" (a
# proxy, a wrong base URL, a path the host does not serve) does not: it names nothing.
NOT_FOUND_WORDING = re.compile(
    r"(?:could(?:n'?t| not)|cannot|can'?t) find (?:this|your|the) (?:order|rental|preorder|account)"
    r"|(?:order|rental|preorder|account) could not be found"
    r"|no (?:available )?rentals? (?:was |were )?found"
    r"|(?:order|rental|preorder) does not exist"
)

# Flat `message` failures carry no code, so the wording decides. Order
# matters: "couldn't find an available number" is stock, not a missing order.
MESSAGE_ERRORS: tuple[tuple[re.Pattern[str], type[ProviderError]], ...] = (
    (re.compile(r"invalid api key"), AuthFailed),
    (re.compile(r"rate.?limit|too many (?:\w+ )?requests|\bbanned\b"), RateLimited),
    (re.compile(r"insufficient balance|not have enough balance"), InsufficientBalance),
    (
        re.compile(
            r"out of stock|could(?:n'?t| not) find an available"
            r"|not available for this (?:country|service)"
        ),
        OutOfStock,
    ),
    (re.compile(r"cannot be cancell?ed yet"), CancelTooEarly),
    (re.compile(r"no price was found|suitable pool below the price"), PriceTooHigh),
    (NOT_FOUND_WORDING, NotFound),
    (re.compile(r"something (?:went|has gone) (?:horribly )?wrong"), UpstreamUnavailable),
)

# The cancel lock has been seen to last over two minutes; ten seconds is a
# polite first retry, the caller backs off from there.
# Orders of the history's first page read when settling an unknown purchase.
RECENT_ORDERS = 100
CANCEL_RETRY_AFTER = 10.0
# The limit is per second (32/s), so a plain 429 clears within a second; too
# many *failed* requests ban the account for a minute, and that answer says so.
RATE_RETRY_AFTER = 1.0
BAN_RETRY_AFTER = 60.0
BAN_WORDING = re.compile(r"\bban|minute", re.IGNORECASE)
DEFAULT_RETRY_AFTER: dict[type[ProviderError], float] = {
    CancelTooEarly: CANCEL_RETRY_AFTER,
    RateLimited: RATE_RETRY_AFTER,
}

# "You cannot refund a rental after 12 hours or after receiving one message."
# (the endpoint page's refund failure): the rule where a listing states none.
DEFAULT_REFUND_HOURS = 12

OLD_PARAM_ERROR = re.compile(r"param:\s*(\w+)", re.IGNORECASE)
REFUNDED_AMOUNT = re.compile(r"refunded\s+\$?(\d+(?:\.\d+)?)", re.IGNORECASE)

# Any of these inside a parser means the body is not what the API sends.
MALFORMED = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)


# --- extra result types (SMSPool-only calls) -------------------------------------


@dataclass(frozen=True)
class CountryOffer:
    """A country's price (and pool or success rate) for one service."""

    country: Country
    price: Decimal | None
    currency: str
    pool: str = ""
    success_rate: Decimal | None = None  # percent, 0-100
    low_price: Decimal | None = None


@dataclass(frozen=True)
class PoolOffer:
    """A pool that can serve a service (in a country), with its price."""

    pool: Pool
    price: Decimal | None
    currency: str
    area_codes: bool = False  # the pool accepts `areacode` (custom_area)


@dataclass(frozen=True)
class OrderRecord:
    """One row of the order history."""

    order: OrderState
    pool: str = ""
    ordered_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True)
class ResendCheck:
    available: bool
    message: str = ""
    resends: int | None = None
    cost: Decimal | None = None
    currency: str = ""
    expires_in_hours: int | None = None


@dataclass(frozen=True)
class RentalInfo:
    rental_id: str
    offer_id: str
    phone_number: str
    price: Decimal | None
    currency: str
    expires_at: datetime | None = None
    extendable: bool | None = None
    auto_extend: bool | None = None
    refunded: bool | None = None
    country_iso: str = ""
    service_id: str = ""
    service_name: str = ""


@dataclass(frozen=True)
class RentalHistoryEntry:
    id: str
    rental_id: str
    action: str
    cost: Decimal | None
    currency: str
    at: datetime | None = None


@dataclass(frozen=True)
class CancelAllResult:
    message: str
    refunded_orders: list[str] = field(default_factory=list)


# --- the client ------------------------------------------------------------------


class SmsPoolClient(ProviderClient):
    kind = "smspool"
    name = "SMSPool"
    default_base_url = "https://api.smspool.net"
    default_currency = "USD"
    rate_limit = (32, 1.0)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.BULK_ACTIVE,
            Capability.RESEND,
            Capability.POOLS,
            Capability.MAX_PRICE,
            Capability.PRICING_OPTION,
            Capability.QUANTITY,
            Capability.AREA_CODES,
            Capability.CARRIER,
            Capability.VOICE,
            Capability.SUCCESS_RATES,
            Capability.RENTALS,
            Capability.RENTAL_EXTEND,
            Capability.RENTAL_REFUND,
            Capability.RENTAL_WAKE,
            Capability.RENTAL_AUTO_EXTEND,
        }
    )
    order_lifetime_seconds = 20 * 60  # expires_in is 1200 in every capture

    # --- transport -----------------------------------------------------------------

    def _post[T](
        self,
        path: str,
        fields: dict[str, Any] | None = None,
        *,
        parse: Callable[[Any], T],
        idempotent: bool = True,
    ) -> T:
        """POST `fields` to `path` and return `parse(body)`; raise the taxonomy only."""
        call = self._call(path, fields, idempotent=idempotent)
        return self._send(call, lambda response: self._read(response, parse))

    def _call(self, path: str, fields: dict[str, Any] | None, *, idempotent: bool = True) -> Call:
        data: dict[str, str] = {"key": self.api_key}
        data.update({k: str(v) for k, v in (fields or {}).items() if v not in (None, "")})
        return Call(
            "POST",
            f"{self.base_url}{path}",
            data=data,
            headers={"Authorization": f"Bearer {self.api_key}"},
            idempotent=idempotent,
        )

    def _read[T](self, response: Response, parse: Callable[[Any], T]) -> T:
        body = load_json(response)
        try:
            if is_failure(body, response.status):
                raise error_for(body, response.status)
            return parse(body)
        except MALFORMED as exc:
            # Not chained: the original error may quote body values, and a body
            # can echo the key.
            raise UpstreamUnavailable(
                f"The provider sent a body smsdesk cannot read ({response.url_path}, "
                f"{type(exc).__name__})."
            ) from None

    # --- account -------------------------------------------------------------------

    def get_balance(self) -> Balance:
        """The account balance (`/request/balance`)."""

        def parse(body: Any) -> Balance:
            expect(isinstance(body, dict), "balance answer")
            return Balance(to_decimal(body.get("balance"), what="balance"), self.currency)

        return self._post("/request/balance", parse=parse)

    # --- catalog -------------------------------------------------------------------

    def list_countries(self) -> list[Country]:
        """Every country (`/country/retrieve_all`); unreadable rows are skipped."""
        return self._post(
            "/country/retrieve_all",
            parse=lambda body: catalog_rows(body, parse_country, "country list"),
        )

    def list_services(self, country_id: str = "") -> list[Service]:
        """Every service, or those offered in `country_id`, with trimmed names."""
        return self._post(
            "/service/retrieve_all",
            {"country": country_id},
            parse=lambda body: catalog_rows(body, parse_service, "service list"),
        )

    def list_pools(self) -> list[Pool]:
        """Every pool (`/pool/retrieve_all`; ID 0 is "Default", the automatic choice)."""
        return self._post(
            "/pool/retrieve_all",
            parse=lambda body: catalog_rows(body, parse_pool, "pool list"),
        )

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Quotes for one service/country pair, or for every pair matching the filters.

        A pair asks `/request/price` (pool and success rate, no stock); an empty
        list means the provider has no price for it. Otherwise `/request/pricing`
        lists the prices and `/sms/all_stock`, when it answers, adds the stock.
        """
        if service_id and country_id:
            return self._pair_quote(service_id, country_id)
        quotes = self._post(
            "/request/pricing",
            {"service": service_id, "country": country_id},
            parse=lambda body: catalog_rows(body, self._pricing_quote, "price list"),
        )
        return self._with_stock(quotes, service_id=service_id, country_id=country_id)

    def _pair_quote(self, service_id: str, country_id: str) -> list[Quote]:
        def parse(body: Any) -> list[Quote]:
            expect(isinstance(body, dict), "price answer")
            price = to_decimal(body.get("price"), what="price")
            if price <= 0:  # "price": 0 is how a missing price is spelled
                return []
            quote = Quote(
                service_id=service_id,
                country_id=country_id,
                price=price,
                currency=self.currency,
                pool=to_text(body.get("pool")),
                success_rate=to_decimal_or_none(body.get("success_rate")),
            )
            return [quote]

        try:
            return self._post(
                "/request/price", {"service": service_id, "country": country_id}, parse=parse
            )
        except PriceTooHigh:  # "No price was found for this query."
            return []

    def _pricing_quote(self, row: dict, stock: int | None = None) -> Quote:
        service, country = to_text(row.get("service")), to_text(row.get("country"))
        expect(bool(service and country), "price row")
        return Quote(
            service_id=service,
            country_id=country,
            price=to_decimal(row.get("price"), what="price"),
            currency=self.currency,
            stock=stock,
            pool=to_text(row.get("pool")),
        )

    def _with_stock(self, quotes: list[Quote], *, service_id: str, country_id: str) -> list[Quote]:
        """`quotes` with stock from /sms/all_stock; unchanged if that call fails."""
        try:
            listed = self.list_stock(service_id=service_id, country_id=country_id)
        except ProviderError as exc:
            # Stock is an enrichment: prices without it still make a catalog.
            log.info("SMSPool stock unavailable, quotes keep no stock: %s", exc.category)
            return quotes
        stock = {(q.service_id, q.country_id, q.pool): q.stock for q in listed}
        return [replace(q, stock=stock.get((q.service_id, q.country_id, q.pool))) for q in quotes]

    def list_stock(
        self, *, service_id: str = "", country_id: str = "", pool: str = ""
    ) -> list[Quote]:
        """Stock and price per service, country and pool (`/sms/all_stock`)."""
        return self._post(
            "/sms/all_stock",
            {"service": service_id, "country": country_id, "pool": pool},
            parse=lambda body: catalog_rows(body, self._stock_quote, "stock list"),
        )

    def _stock_quote(self, row: dict) -> Quote:
        return self._pricing_quote(row, stock=to_int_or_none(row.get("stock")))

    def fetch_catalog(self) -> Catalog:
        """Countries, services, pools and every pool's price and stock, in four requests.

        `/sms/all_stock` carries service, country, pool, price and stock on each
        row, so it alone gives the quotes; `/request/pricing` is read instead
        only when it fails (those quotes have no stock, as in `get_quotes`).
        `quotes` is an iterator over the body as it arrives (150,000 rows at
        live size are never held): it can be read once, and raises
        UpstreamUnavailable if the body breaks off half way.
        """
        countries, services, pools = self.list_countries(), self.list_services(), self.list_pools()
        try:
            quotes = self._streamed("/sms/all_stock", self._stock_quote, "stock list")
        except ProviderError as exc:
            log.info("SMSPool stock unavailable, quotes keep no stock: %s", exc.category)
            quotes = self._streamed("/request/pricing", self._pricing_quote, "price list")
        return Catalog(countries, services, pools, quotes=quotes)

    def _streamed[T](self, path: str, parse_one: Callable[[Any], T], what: str) -> Iterator[T]:
        """The rows of a list at `path`, parsed one at a time as the body arrives.

        The request goes out now: a failure to answer raises here, a body that
        breaks off raises from the iterator.
        """
        items = self.transport.stream_rows(
            self._call(path, {}),
            lambda response: self._read(response, lambda body: list_rows(body, what)),
            parse_float=Decimal,
        )
        return parsed_rows(items, parse_one, what)

    def get_stock(self, *, service_id: str, country_id: str, pool: str = "") -> int:
        """Numbers in stock for one service/country (and pool) (`/sms/stock`)."""

        def parse(body: Any) -> int:
            expect(isinstance(body, dict), "stock answer")
            amount = to_int_or_none(body.get("amount"))
            expect(amount is not None, "stock amount")
            return amount

        return self._post(
            "/sms/stock", {"service": service_id, "country": country_id, "pool": pool}, parse=parse
        )

    def success_rates(self, service_id: str) -> list[CountryOffer]:
        """Per-country success rate and price range for a service."""
        return self._post(
            "/request/success_rate",
            {"service": service_id},
            parse=lambda body: catalog_rows(body, self._country_offer, "success rates"),
        )

    def suggested_countries(self, service_id: str) -> list[CountryOffer]:
        """The countries (with pool and price) SMSPool suggests for a service."""
        return self._post(
            "/request/suggested_countries",
            {"service": service_id},
            parse=lambda body: catalog_rows(body, self._country_offer, "suggested countries"),
        )

    def _country_offer(self, row: dict) -> CountryOffer:
        country_id = to_text(row.get("country_id", row.get("country")))
        expect(bool(country_id), "country row")
        return CountryOffer(
            country=Country(
                id=country_id,
                name=clean_name(row.get("name")),
                iso=to_text(row.get("short_name")).upper(),
            ),
            price=to_decimal_or_none(row.get("price")),
            currency=self.currency,
            pool=to_text(row.get("pool")),
            success_rate=to_decimal_or_none(row.get("success_rate")),
            low_price=to_decimal_or_none(row.get("low_price")),
        )

    def valid_pools(self, service_id: str, country_id: str = "") -> list[PoolOffer]:
        """The pools that can serve a service (in a country), cheapest first as sent."""

        def pool_offer(row: dict) -> PoolOffer:
            pool_id = to_text(row.get("pool"))
            expect(bool(pool_id), "pool row")
            return PoolOffer(
                pool=Pool(id=pool_id, name=clean_name(row.get("name"))),
                price=to_decimal_or_none(row.get("price")),
                currency=self.currency,
                area_codes=to_int_or_none(row.get("custom_area")) == 1,
            )

        # web=1 asks for the array format the documentation shows.
        return self._post(
            "/pool/retrieve_valid",
            {"service": service_id, "country": country_id, "web": "1"},
            parse=lambda body: catalog_rows(body, pool_offer, "pool list"),
        )

    # --- activations ---------------------------------------------------------------

    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Order `request.quantity` numbers with every option SMSPool understands.

        Returns one Purchase per number issued: possibly fewer than asked (the
        endpoint page does not list `quantity`; a host that ignores it sells
        one), so the caller checks the count. Raises OutOfStock,
        InsufficientBalance, PriceTooHigh, InvalidRequest... as the provider says.
        """
        return self._post(
            "/purchase/sms",
            purchase_fields(request),
            parse=lambda body: [self._purchase(row) for row in purchase_rows(body)],
            idempotent=False,
        )

    def _purchase(self, row: dict) -> Purchase:
        order_id = to_text(row.get("order_id"))
        expect(bool(order_id), "purchase answer (no order_id)")
        cc, national = digits(row.get("cc")), digits(row.get("phonenumber"))
        return Purchase(
            order_id=order_id,
            phone_number=full_number(cc, national, digits(row.get("number"))),
            cost=purchase_cost(row),
            currency=self.currency,
            expires_at=expiry(row.get("expiration"), row.get("expires_in"))
            or self._default_expiry(),
            country_code=cc,
            national_number=national if cc else "",
            pool=to_text(row.get("pool")),
            status=OrderStatus.WAITING,
        )

    def _default_expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.order_lifetime_seconds)

    def get_order(self, order_id: str) -> OrderState:
        """The order's state from `/sms/check`; NotFound for an unknown order."""

        def parse(body: Any) -> OrderState:
            expect(isinstance(body, dict) and "status" in body, "order status")
            status = order_status(body.get("status"))
            return OrderState(
                order_id=order_id,
                status=status,
                raw_status=to_text(body.get("status")),
                code=code_text(body.get("sms")),
                full_text=code_text(body.get("full_sms")),
                expires_at=expiry(body.get("expiration"), body.get("time_left")),
            )

        return self._post("/sms/check", {"orderid": order_id}, parse=parse)

    def list_active_orders(self) -> list[OrderState]:
        """Every open order with its code (`/request/active`), in one request."""
        return self._post(
            "/request/active",
            parse=lambda body: [self._listed_order(row) for row in rows(body, "active orders")],
        )

    def _listed_order(self, row: dict) -> OrderState:
        order_id = to_text(row.get("order_code", row.get("order_id")))
        expect(bool(order_id), "order row")
        code = code_text(row.get("code"))
        status = order_status(row.get("status"))
        if status is OrderStatus.WAITING and code:
            status = OrderStatus.RECEIVED
        return OrderState(
            order_id=order_id,
            status=status,
            raw_status=to_text(row.get("status")),
            code=code,
            full_text=code_text(row.get("full_code")),
            phone_number=digits(row.get("phonenumber")),
            expires_at=expiry(row.get("expiry"), row.get("time_left")),
            cost=to_decimal_or_none(row.get("cost")),
            currency=self.currency,
            service=clean_name(row.get("service")),
            country=to_text(row.get("short_name")).upper(),
        )

    def history(self, *, start: int = 0, length: int = 100, search: str = "") -> list[OrderRecord]:
        """Past orders, newest first as sent (`/request/history`)."""

        def record(row: dict) -> OrderRecord:
            return OrderRecord(
                order=self._listed_order(row),
                pool=to_text(row.get("pool")),
                ordered_at=server_time(row.get("timestamp")),
                completed_at=server_time(row.get("completed_on")),
            )

        return self._post(
            "/request/history",
            {"start": start, "length": length, "search": search},
            parse=lambda body: [record(row) for row in rows(body, "order history")],
        )

    def recent_orders(self, since: datetime) -> list[OrderState]:
        """Orders placed since `since`, ended ones included (the history's first page)."""
        records = self.history(length=RECENT_ORDERS)
        return [r.order for r in records if r.ordered_at is None or r.ordered_at >= since]

    def cancel(self, order_id: str) -> CancelResult:
        """Cancel and refund an order.

        Raises CancelTooEarly (retry_after set) while the order is time-locked,
        NotFound for an unknown order.
        """

        def parse(body: Any) -> CancelResult:
            message = clean_message(body.get("message")) if isinstance(body, dict) else ""
            match = REFUNDED_AMOUNT.search(message)
            return CancelResult(
                order_id=order_id,
                refunded=Decimal(match.group(1)) if match else None,
                currency=self.currency,
                status=OrderStatus.CANCELLED,
            )

        return self._post("/sms/cancel", {"orderid": order_id}, parse=parse, idempotent=False)

    def cancel_all(self) -> CancelAllResult:
        """Cancel every active order; returns the provider's message and refunded ids."""

        def parse(body: Any) -> CancelAllResult:
            expect(isinstance(body, dict), "cancel-all answer")
            refunded = body.get("refunded_orders") or []
            expect(isinstance(refunded, list), "refunded order list")
            return CancelAllResult(
                message=clean_message(body.get("message")),
                refunded_orders=[order_ref(item) for item in refunded],
            )

        return self._post("/sms/cancel_all", parse=parse, idempotent=False)

    def resend(self, order_id: str) -> ResendResult:
        """Ask for another code on the same number; returns the order that now waits for it.

        Two documented answers: the collection's `{success, message, order_id,
        charge}` (a NEW order id, and what the resend cost) and the endpoint
        page's `{success, message, resend}` (the same order waits again; no
        charge stated, so `charge` is None). A missing or empty `order_id`
        means the same order. Raises InvalidRequest when SMSPool refuses,
        NotFound when it does not know the order.
        """

        def parse(body: Any) -> ResendResult:
            expect(isinstance(body, dict), "resend answer")
            return ResendResult(
                order_id=to_text(body.get("order_id")) or order_id,
                charge=to_decimal_or_none(body.get("charge")),
                currency=self.currency,
            )

        return self._post("/sms/resend", {"orderid": order_id}, parse=parse, idempotent=False)

    def check_resend(self, order_id: str) -> ResendCheck:
        """Whether (and at what cost) the order can be resent; NotFound if unknown."""

        def parse(body: Any) -> ResendCheck:
            expect(isinstance(body, dict), "resend check")
            return ResendCheck(
                available=True,
                message=clean_message(body.get("message")),
                resends=to_int_or_none(body.get("resends")),
                cost=to_decimal_or_none(body.get("resendCost")),
                currency=self.currency,
                expires_in_hours=to_int_or_none(body.get("expires_in_hour")),
            )

        try:
            return self._post("/sms/check_resend", {"orderid": order_id}, parse=parse)
        except InvalidRequest as exc:  # "This number cannot be resent at the moment"
            return ResendCheck(available=False, message=exc.message)

    def activate_order(self, order_id: str) -> str:
        """Force-activate an order for later resends (pool Foxtrot only; forfeits the refund)."""
        return self._post(
            "/sms/activate", {"orderid": order_id}, parse=message_of, idempotent=False
        )

    def reactivate_order(self, order_id: str) -> str:
        """Reactivate a finished order (not refundable afterwards); returns the message."""
        return self._post(
            "/sms/reactivate", {"orderid": order_id}, parse=message_of, idempotent=False
        )

    def archive(self) -> str:
        """Archive every inactive order; returns the provider's message."""
        return self._post("/request/archive", parse=message_of, idempotent=False)

    def clear_cache(self) -> str:
        """Forget previously issued numbers so they can be allocated again."""
        return self._post("/sms/clear_cache", parse=message_of, idempotent=False)

    # --- rentals -------------------------------------------------------------------

    def list_rental_offers(self, *, service_id: str = "") -> list[RentalOffer]:
        """Extendable then non-extendable rental products (two requests).

        SMSPool rents whole lines per country, so `service_id` does not filter;
        single-service pricing is in `single_service_durations`.
        """
        offers: dict[str, RentalOffer] = {}
        for extendable in (True, False):
            for offer in self._rental_offers(extendable):
                offers.setdefault(offer.id, offer)
        return list(offers.values())

    def _rental_offers(self, extendable: bool) -> list[RentalOffer]:
        def offer(pair: tuple[str, dict]) -> RentalOffer:
            return self._rental_offer(*pair, extendable=extendable)

        def parse(body: Any) -> list[RentalOffer]:
            return catalog_rows(rental_offer_rows(body), offer, "rental list")

        try:
            return self._post(
                "/rental/retrieve_all", {"type": "1" if extendable else "0"}, parse=parse
            )
        except NotFound:  # "No available rentals found for your search."
            return []

    def _rental_offer(self, key: str, row: dict, *, extendable: bool) -> RentalOffer:
        offer_id = to_text(row.get("ID")) or key
        expect(bool(offer_id), "rental offer id")
        refundable, refund_within = refund_terms(row)
        return RentalOffer(
            id=offer_id,
            name=clean_name(row.get("tag") or row.get("name")),
            durations=day_prices(row.get("pricing")),
            currency=self.currency,
            unit="day",
            extendable=extendable,
            refundable=refundable,
            refund_within_hours=refund_within,
            single_service_durations=day_prices(row.get("single_service")),
        )

    def get_rental_pricing(self, offer_id: str) -> RentalOffer:
        """Prices for renting and extending one rental product (`/rental/retrieve_pricing`)."""

        def parse(body: Any) -> RentalOffer:
            expect(isinstance(body, dict) and "pricing" in body, "rental pricing")
            extend = day_prices(body.get("extend"))
            return RentalOffer(
                id=offer_id,
                name="",
                durations=day_prices(body.get("pricing")),
                currency=self.currency,
                extendable=bool(extend),
                extend_durations=extend,
            )

        return self._post("/rental/retrieve_pricing", {"id": offer_id}, parse=parse)

    def rental_stock(self, offer_id: str, days: int | None = None) -> int:
        """Lines in stock for a rental product (and length)."""

        def parse(body: Any) -> int:
            expect(isinstance(body, dict), "rental stock")
            count = to_int_or_none(body.get("count"))
            expect(count is not None, "rental stock count")
            return count

        return self._post("/rental/stock", {"id": offer_id, "days": days}, parse=parse)

    def list_rental_services(self, offer_id: str) -> list[Service]:
        """The services a rental product can receive from."""
        return self._post(
            "/rental/retrieve_services",
            {"rental": offer_id},
            parse=lambda body: catalog_rows(body, parse_service, "rental services"),
        )

    def rent(self, request: RentalRequest) -> RentalPurchase:
        """Rent a line for `request.duration` days (half price with a US service_id).

        The purchase answer has no price, so the cost is read back from
        `/rental/info` when that answers; otherwise it stays None.
        """

        def parse(body: Any) -> RentalPurchase:
            expect(isinstance(body, dict), "rental answer")
            rental_id = to_text(body.get("rental_code"))
            expect(bool(rental_id), "rental answer (no rental_code)")
            return RentalPurchase(
                rental_id=rental_id,
                phone_number=digits(body.get("phonenumber")),
                expires_at=from_timestamp(body.get("expiry")),
                cost=None,
                currency=self.currency,
                duration=to_int_or_none(body.get("days")) or request.duration,
                unit="day",
                message=clean_message(body.get("message")),
            )

        fields = {
            "id": request.offer_id,
            "days": request.duration,
            "service_id": request.service_id,
        }
        purchase = self._post("/purchase/rental", fields, parse=parse, idempotent=False)
        return self._with_rental_cost(purchase)

    def _with_rental_cost(self, purchase: RentalPurchase) -> RentalPurchase:
        try:
            info = self.rental_info(purchase.rental_id)
        except ProviderError as exc:
            log.info("SMSPool rental cost unknown after purchase: %s", exc.category)
            return purchase
        return replace(
            purchase,
            phone_number=purchase.phone_number or info.phone_number,
            expires_at=purchase.expires_at or info.expires_at,
            cost=info.price,
        )

    def rental_info(self, rental_id: str) -> RentalInfo:
        """Everything SMSPool knows about one rental (`/rental/info`)."""

        def parse(body: Any) -> RentalInfo:
            expect(isinstance(body, dict), "rental info")
            return RentalInfo(
                rental_id=to_text(body.get("rental_code")) or rental_id,
                offer_id=to_text(body.get("rental")),
                phone_number=digits(body.get("phonenumber")),
                price=to_decimal_or_none(body.get("price")),
                currency=self.currency,
                expires_at=from_timestamp(body.get("expiration_date")),
                extendable=flag(body.get("type")),
                auto_extend=flag(body.get("auto_extend")),
                refunded=flag(body.get("refund")),
                country_iso=to_text(body.get("country_name")).upper(),
                service_id=to_text(body.get("service")),
                service_name=clean_name(body.get("service_name")),
            )

        return self._post("/rental/info", {"rental_code": rental_id}, parse=parse)

    def get_rental(self, rental_id: str) -> RentalState:
        """Expiry and auto-extend from `/rental/info`, which, unlike the status
        call, does not wake the line; `available` stays unknown (None)."""
        info = self.rental_info(rental_id)
        status = "refunded" if info.refunded else rental_status(info.expires_at)
        return RentalState(
            rental_id=rental_id,
            phone_number=info.phone_number,
            expires_at=info.expires_at,
            auto_extend=info.auto_extend,
            status=status,
            cost=info.price,
            currency=info.currency,
        )

    def rental_status(self, rental_id: str) -> RentalState:
        """The line state from `/rental/retrieve_status`; calling it wakes the line."""

        def parse(body: Any) -> RentalState:
            expect(isinstance(body, dict), "rental status")
            state = body.get("status")
            expect(isinstance(state, dict), "rental status")
            expires_at = from_timestamp(state.get("expiry"))
            return RentalState(
                rental_id=rental_id,
                phone_number=digits(state.get("phonenumber")),
                expires_at=expires_at,
                available=flag(state.get("available")),
                active_for=to_int_or_none(state.get("activeFor")),
                auto_extend=flag(state.get("auto_extend")),
                status=rental_status(expires_at),
            )

        return self._post("/rental/retrieve_status", {"rental_code": rental_id}, parse=parse)

    def wake_rental(self, rental_id: str, *, attempts: int = 3, pause: float = 1.0) -> RentalState:
        """Wake the line before a code is sent ("available must be 1 before you send a
        code"): the status call wakes it, and may answer 0 until it is up, so ask
        again a few times. Returns the last state; `available` says if it is ready."""
        state = self.rental_status(rental_id)
        for _ in range(attempts - 1):
            if state.available:
                break
            self.transport.sleep(pause)
            state = self.rental_status(rental_id)
        return state

    def list_rentals(self) -> list[RentalState]:
        """Every active rental (`/rental/retrieve`)."""

        def rental(row: dict) -> RentalState:
            rental_id = to_text(row.get("rental_code"))
            expect(bool(rental_id), "rental row")
            expires_at = from_timestamp(row.get("expiration_date"))
            state = to_text(row.get("state")).lower()
            return RentalState(
                rental_id=rental_id,
                phone_number=digits(row.get("phonenumber")),
                expires_at=expires_at,
                # "Unknown" is the only state ever captured; the expiry is firmer.
                status=state if state in RENTAL_STATES else rental_status(expires_at),
            )

        return self._post(
            "/rental/retrieve",
            parse=lambda body: [rental(row) for row in rows(body, "rental list")],
        )

    def list_rental_messages(self, rental_id: str) -> list[Message]:
        """Messages the rental received, oldest first as sent; NotFound if unknown."""

        def parse(body: Any) -> list[Message]:
            expect(isinstance(body, dict), "rental messages")
            return rental_messages(rows(body.get("messages") or [], "rental messages"))

        return self._post("/rental/retrieve_messages", {"rental_code": rental_id}, parse=parse)

    def extend_rental(self, rental_id: str, duration: int) -> RentalState:
        """Extend by `duration` days; returns the new expiry."""

        def parse(body: Any) -> RentalState:
            expect(isinstance(body, dict), "extend answer")
            expires_at = from_timestamp(body.get("expiration_date"))
            return RentalState(
                rental_id=rental_id, expires_at=expires_at, status=rental_status(expires_at)
            )

        fields = {"rental_code": rental_id, "days": duration}
        return self._post("/rental/extend", fields, parse=parse, idempotent=False)

    def refund_rental(self, rental_id: str) -> RentalRefund:
        """Refund a rental (only early, and only before its first message)."""

        def parse(body: Any) -> RentalRefund:
            message = clean_message(body.get("message")) if isinstance(body, dict) else ""
            return RentalRefund(rental_id=rental_id, currency=self.currency, message=message)

        return self._post(
            "/rental/refund", {"rental_code": rental_id}, parse=parse, idempotent=False
        )

    def set_rental_auto_extend(self, rental_id: str, enabled: bool) -> bool:
        """Turn auto-extension on or off; returns the final setting.

        `/rental/auto_extend` toggles, so the current setting is read first and
        the toggle sent only when it differs. Raises UpstreamUnavailable when the
        current setting cannot be read (toggling blind could undo the wish).
        """
        current = self._auto_extend_state(rental_id)
        if current is enabled:
            return enabled

        def parse(body: Any) -> bool:
            expect(isinstance(body, dict), "auto-extend answer")
            state = flag(body.get("auto_extend"))
            return enabled if state is None else state

        return self._post(
            "/rental/auto_extend", {"rental_code": rental_id}, parse=parse, idempotent=False
        )

    def _auto_extend_state(self, rental_id: str) -> bool:
        # /rental/info, not the status call: reading the setting must not wake the line.
        current = self.rental_info(rental_id).auto_extend
        if current is None:
            raise UpstreamUnavailable("The provider did not say whether auto-extend is on.")
        return current

    def reset_rental(self, rental_id: str) -> str:
        """Reset the rental's port (some rental types only); returns the message."""
        return self._post(
            "/rental/reset", {"rental_code": rental_id}, parse=message_of, idempotent=False
        )

    def rental_history(self) -> list[RentalHistoryEntry]:
        """Every rental action with its cost (`/rental/history`)."""

        def entry(row: dict) -> RentalHistoryEntry:
            return RentalHistoryEntry(
                id=to_text(row.get("ID")),
                rental_id=to_text(row.get("rental")),
                action=to_text(row.get("action")),
                cost=to_decimal_or_none(row.get("cost")),
                currency=self.currency,
                at=server_time(row.get("timestamp")),
            )

        return self._post(
            "/rental/history",
            parse=lambda body: [entry(row) for row in rows(body, "rental history")],
        )


# --- failure detection and classification ----------------------------------------


def load_json(response: Response) -> Any:
    """The body as JSON with fractional numbers as Decimal; UpstreamUnavailable if not JSON."""
    try:
        return json.loads(response.text, parse_float=Decimal)
    except ValueError:
        return response.json()  # raises UpstreamUnavailable naming what came instead


def error_for(body: Any, status: int) -> ProviderError:
    """The taxonomy error for a failure body, with the provider's message.

    A 404 is NotFound only when SMSPool itself says the order or rental is
    missing; any other 404 is UpstreamUnavailable, so no caller closes an
    order (or books a refund) because a proxy or a wrong base URL said 404.
    """
    if status == 404 and not is_envelope(body):
        return foreign_404()
    envelope = body if isinstance(body, dict) else {}
    field_errors = dict(field_errors_of(envelope))
    message = failure_message(envelope)
    kind = to_text(envelope.get("type"))
    cls = classify_failure(kind.upper(), message, field_errors, status)
    if cls is UpstreamUnavailable and status == 404:
        return foreign_404()
    retry_after = DEFAULT_RETRY_AFTER.get(cls)
    if cls is RateLimited and BAN_WORDING.search(message):
        retry_after = BAN_RETRY_AFTER
    return cls(
        message,
        provider_code=kind,
        field_errors=field_errors,
        retry_after=retry_after,
    )


def is_envelope(body: Any) -> bool:
    """True for SMSPool's failure envelope: a top-level `success: 0` or `errors[]` entries."""
    return isinstance(body, dict) and (is_false(body.get("success")) or bool(error_entries(body)))


def foreign_404() -> UpstreamUnavailable:
    # No body text: whatever answered is not SMSPool, and may echo the request.
    return UpstreamUnavailable(
        'SMSPool answered HTTP 404 without its own "not found" error; check the base URL.'
    )


def is_false(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | Decimal):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in {"0", "false"}
    return False


def is_failure(body: Any, status: int) -> bool:
    """True for a 4xx, a top-level `success: 0` or a non-empty top-level `errors`."""
    if status >= 400:
        return True
    if not isinstance(body, dict):
        return False
    errors = body.get("errors")
    return is_false(body.get("success")) or (isinstance(errors, list) and bool(errors))


def error_entries(envelope: dict) -> list[dict]:
    errors = envelope.get("errors")
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def field_errors_of(envelope: dict) -> list[tuple[str, str]]:
    """(param, message) pairs from `errors[]`, old ("param: x") and new (`param`) style."""
    pairs = []
    for entry in error_entries(envelope):
        text = clean_message(entry.get("message"))
        param = to_text(entry.get("param"))
        if not param:
            match = OLD_PARAM_ERROR.search(text)
            param = match.group(1) if match else ""
        if param:
            pairs.append((param, text))
    return pairs


def failure_message(envelope: dict) -> str:
    message = clean_message(envelope.get("message"))
    if message:
        return message
    texts = []
    for entry in error_entries(envelope):
        text, param = clean_message(entry.get("message")), to_text(entry.get("param"))
        texts.append(f"{text} ({param})" if param and param not in text else text)
    return "; ".join(t for t in texts if t)


def classify_failure(
    kind: str, message: str, field_errors: dict[str, str], status: int
) -> type[ProviderError]:
    """Which taxonomy class a failure belongs to, strongest signal first."""
    if kind in TYPE_ERRORS:
        return TYPE_ERRORS[kind]
    if status in (401, 403) or "key" in field_errors:
        return AuthFailed
    lowered = message.lower()
    for pattern, cls in MESSAGE_ERRORS:
        if pattern.search(lowered):
            return cls
    if field_errors:
        return InvalidRequest
    if status == 404:
        # SMSPool's envelope, but no wording of its "not found": not proof the order is gone.
        return UpstreamUnavailable
    return InvalidRequest  # 400, 422 without a type, or a 200 with success: 0


# --- parsing helpers --------------------------------------------------------------


def rows(body: Any, what: str) -> list[dict]:
    """A JSON list, or a PHP array serialised as an object keyed "0", "1"..., as dicts."""
    if isinstance(body, dict) and all(str(key).isdigit() for key in body):
        body = list(body.values())
    expect(isinstance(body, list), what)
    expect(all(isinstance(row, dict) for row in body), what)
    return body


def catalog_rows[T](body: Any, parse_one: Callable[[Any], T], what: str) -> list[T]:
    """Parse every row of a catalog list, skipping (and logging) unreadable rows.

    One dirty row among a thousand services must not stop the catalog sync;
    a body that is not a list at all still raises UpstreamUnavailable.
    """
    return list(parsed_rows(list_rows(body, what), parse_one, what))


def list_rows(body: Any, what: str) -> list:
    """A list body as it is, or a PHP array serialised as an object as its rows."""
    return body if isinstance(body, list) else rows(body, what)


def parsed_rows[T](items: Iterable[Any], parse_one: Callable[[Any], T], what: str) -> Iterator[T]:
    """`parse_one` of each item, in order, skipping (and logging) unreadable ones."""
    skipped = 0
    for item in items:
        try:
            parsed = parse_one(item)
        except (UpstreamUnavailable, *MALFORMED):
            skipped += 1
            continue
        yield parsed
    if skipped:
        log.warning("SMSPool %s: skipped %d unreadable row(s)", what, skipped)


def rental_offer_rows(body: Any) -> list[tuple[str, dict]]:
    """(key, row) pairs from `{success, data: [...]}` or the older `{"<id>": {...}}`."""
    expect(isinstance(body, dict), "rental list")
    data = body.get("data", body)
    if isinstance(data, list):
        return [("", row) for row in data]
    expect(isinstance(data, dict), "rental list")
    return [(str(key), row) for key, row in data.items() if isinstance(row, dict)]


def parse_country(row: Any) -> Country:
    country_id = to_text(row.get("ID", row.get("id")))
    expect(bool(country_id), "country id")
    return Country(
        id=country_id, name=clean_name(row.get("name")), iso=to_text(row.get("short_name")).upper()
    )


def parse_service(row: Any) -> Service:
    service_id = to_text(row.get("ID", row.get("id")))
    expect(bool(service_id), "service id")
    return Service(id=service_id, name=clean_name(row.get("name")))


def parse_pool(row: Any) -> Pool:
    pool_id = to_text(row.get("ID", row.get("id")))
    expect(bool(pool_id), "pool id")
    return Pool(id=pool_id, name=clean_name(row.get("name")))


def clean_name(value: Any) -> str:
    """A catalog name trimmed and with inner whitespace (CR/LF too) collapsed."""
    return " ".join(to_text(value).split())


def code_text(value: Any) -> str:
    """A code field, "" while none has arrived ("0" and "" both mean none)."""
    text = to_text(value)
    return "" if text == "0" else text


def order_ref(value: Any) -> str:
    if isinstance(value, dict):
        return to_text(value.get("order_code", value.get("order_id")))
    return to_text(value)


def order_status(value: Any) -> OrderStatus:
    """A numeric (/sms/check) or word (/request/active) status as an OrderStatus."""
    number = to_int_or_none(value)
    if number is not None:
        return CHECK_STATUSES.get(number, OrderStatus.UNKNOWN)
    return WORD_STATUSES.get(to_text(value).lower(), OrderStatus.UNKNOWN)


def expiry(timestamp: Any, seconds_left: Any) -> datetime | None:
    """When an order expires: its unix timestamp, else now + seconds left."""
    at = from_timestamp(timestamp)
    if at is not None:
        return at
    left = to_int_or_none(seconds_left)
    return datetime.now(UTC) + timedelta(seconds=left) if left and left > 0 else None


def server_time(value: Any) -> datetime | None:
    """A zone-less server time ("2024-01-06 18:03:15", "11 May 2022 18:39:54") in UTC."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return from_timestamp(value)
    text = to_text(value)
    for fmt in SERVER_TIME_FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=SERVER_TZ).astimezone(UTC)
    return from_timestamp(text) if text.isdigit() else None


RENTAL_STATES = {"active", "expired", "refunded", "cancelled", "finished"}


def rental_status(expires_at: datetime | None) -> str:
    """The rental's status by the clock: active, expired, or "" when the expiry is unknown."""
    if expires_at is None:
        return ""
    return "active" if expires_at > datetime.now(UTC) else "expired"


def full_number(cc: str, national: str, number: str) -> str:
    """The number with its country code, as text (leading zeros kept)."""
    if cc and national and number != national:
        return cc + national
    return number or national


def purchase_cost(row: dict) -> Decimal | None:
    cost = to_decimal_or_none(row.get("cost"))
    if cost is None:
        cents = to_int_or_none(row.get("cost_in_cents"))
        cost = Decimal(cents) / 100 if cents is not None else None
    return cost


def purchase_rows(body: Any) -> list[dict]:
    """The order objects in a purchase answer: one object, or a list of them.

    Several numbers (`quantity`) have no documented answer; a list, an object
    keyed "0", "1"... or one under `orders`/`data` are all accepted.
    """
    if isinstance(body, dict) and "order_id" not in body:
        nested = body.get("orders", body.get("data"))
        if nested is not None:
            body = nested
        elif any(str(key).isdigit() for key in body):
            body = {k: v for k, v in body.items() if str(k).isdigit()}
    if isinstance(body, dict) and "order_id" in body:
        return [body]
    found = rows(body, "purchase answer")
    expect(bool(found), "purchase answer")
    return found


def area_codes_json(codes: Iterable[str]) -> str:
    """Area codes as the JSON array SMSPool expects ("[212,646]"), keeping leading zeros."""
    values: list[int | str] = []
    for code in (c.strip() for c in codes):
        if code:
            values.append(int(code) if code.isdigit() and not code.startswith("0") else code)
    return json.dumps(values, separators=(",", ":"))


def purchase_fields(request: PurchaseRequest) -> dict[str, str]:
    """The form fields for /purchase/sms; InvalidRequest for a quantity below one."""
    if request.quantity < 1:
        raise InvalidRequest("The quantity must be at least 1.", field_errors={"quantity": "< 1"})
    fields = {"country": request.country_id, "service": request.service_id, "pool": request.pool}
    if request.max_price is not None:
        fields["max_price"] = format(request.max_price, "f")
    if request.pricing_option is not None:
        fields["pricing_option"] = PRICING_OPTIONS[request.pricing_option]
    if request.quantity > 1:
        fields["quantity"] = str(request.quantity)
    if request.area_codes:
        fields["areacode"] = area_codes_json(request.area_codes)
        if request.exclude_area_codes:
            fields["exclude"] = "1"
    fields["carrier"] = request.carrier
    if request.activation_type != ActivationType.SMS:  # SMS is the default; VOICE/FLASH: Mike
        fields["activation_type"] = request.activation_type.value
    return fields


def day_prices(value: Any) -> dict[int, Decimal]:
    """A pricing map {"7": 18, "30": 30} (maybe JSON inside a string) as {days: price}."""
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except ValueError:
            return {}
    if not isinstance(value, dict):  # null, or PHP's empty array []
        return {}
    prices = {}
    for days, price in value.items():
        length, amount = to_int_or_none(days), to_decimal_or_none(price)
        if length and length > 0 and amount is not None:
            prices[length] = amount
    return dict(sorted(prices.items()))


def refund_terms(row: dict) -> tuple[bool, int | None]:
    """(refundable, within how many hours) for a rental offer row.

    The collection's rows say it (`is_refundable`, `refund_within`); the
    endpoint page's rows say nothing, and its rule then applies to every
    rental: refundable within 12 hours and before the first message.
    """
    if row.get("is_refundable") is None:
        return True, DEFAULT_REFUND_HOURS
    if flag(row.get("is_refundable")) is not True:
        return False, None
    hours = to_int_or_none(row.get("refund_within"))
    return True, DEFAULT_REFUND_HOURS if hours is None else hours


def rental_messages(items: list[dict]) -> list[Message]:
    """Messages from their rows. `ID` is unique in new answers but repeats the
    rental's id in old ones; a repeated id is dropped so nobody dedupes on it."""
    ids = [to_text(row.get("ID")) for row in items]
    return [
        Message(
            text=to_text(row.get("message")),
            sender=to_text(row.get("sender")),
            received_at=server_time(row.get("timestamp")),
            id=ident if ids.count(ident) == 1 else "",
        )
        for row, ident in zip(items, ids, strict=True)
    ]


def message_of(body: Any) -> str:
    return clean_message(body.get("message")) if isinstance(body, dict) else ""
