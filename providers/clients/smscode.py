"""SMSCode: REST JSON with a `{success, data | error{code, message, details}}` envelope.

SMSCode documents two dialects and a host may speak either:

- "sdk": smscode-wire-facts.md, the live API as the official SDK and OpenAPI
  contract describe it. /v1/orders/create and /v1/orders/cancel, an active list,
  finish and resend, catalogue rows with `id`, /v2 money in USD.
- "guide": smscode-api-integration-guide.txt. POST /v1/orders with
  {country_id, platform_id} and a flat {order_id, ...} result, DELETE
  /v1/orders/{id}, catalogue rows keyed by `country_id`/`platform_id` with
  `available_count` (and no services list), lower-case statuses ("completed"
  once the code is there), its own error codes, /v1 (IDR) only.

Parsing accepts both shapes everywhere. Which paths to send is learned per
account and remembered through `learn("dialect", ...)`: from the shape of a
catalogue list (free), or from a 404 on one dialect's path, after which the
other dialect's form is tried once. So detection costs at most one request,
never sends a purchase twice (a 404 means nothing was bought), and a remembered
dialect that starts answering 404 is re-detected the same way.

The base URL carries no version; paths start with /v1 (money as IDR integers)
or /v2 (USD money objects over the same IDR ledger). A USD account on an SDK
host reads money from /v2, any other from /v1. Order polling and the active
list always use /v1: they carry no FX and are the same on both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from providers.clients.base import (
    ProviderClient,
    expect,
    from_iso,
    phone_text,
    plain_text,
    to_decimal,
    to_int_or_none,
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
    OrderState,
    OrderStatus,
    PricingOption,
    Purchase,
    PurchaseRequest,
    Quote,
    ResendResult,
    Service,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SDK, GUIDE = "sdk", "guide"
# What the guide's dialect has no call for. Learned as "missing" together with
# the dialect, so ProviderAccount.supports() (and the order form) knows too.
GUIDE_LACKS = frozenset(
    {
        Capability.BULK_ACTIVE,
        Capability.RESEND,
        Capability.FINISH,
        Capability.PRICING_OPTION,
        Capability.QUANTITY,
        Capability.OPERATOR,
    }
)
# A 404 or 405 on a path: the host may not serve that path at all.
PATH_NOT_SERVED = (404, 405)
# Statuses that say nothing about whether the path exists.
NOT_ABOUT_THE_PATH = (401, 403, 404, 405, 429)

ORDER_STATUSES: dict[str, OrderStatus] = {
    "active": OrderStatus.WAITING,
    "pending": OrderStatus.WAITING,  # the guide's word for ACTIVE
    "otp_received": OrderStatus.RECEIVED,
    "completed": OrderStatus.COMPLETED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,  # the guide's spelling
    "expired": OrderStatus.EXPIRED,
}
# error.code → exception. The guide's codes are aliases of the live ones.
ERRORS: dict[str, type[ProviderError]] = {
    "UNAUTHORIZED": AuthFailed,
    "FORBIDDEN": AuthFailed,
    "NOT_FOUND": NotFound,
    "ORDER_NOT_FOUND": NotFound,
    "VALIDATION_ERROR": InvalidRequest,
    "INVALID_PARAMETERS": InvalidRequest,
    "NO_OFFER_AVAILABLE": OutOfStock,
    "PRODUCT_UNAVAILABLE": OutOfStock,
    "INSUFFICIENT_BALANCE": InsufficientBalance,
    "CONFLICT": InvalidRequest,
    "CANCEL_TOO_EARLY": CancelTooEarly,
    "REQUEST_IN_PROGRESS": RateLimited,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "TEMP_BANNED_ABUSE_GUARD": RateLimited,
    "PROVIDER_ERROR": UpstreamUnavailable,
    "IDEMPOTENCY_KEY_REUSED": InvalidRequest,
    "PAYLOAD_TOO_LARGE": InvalidRequest,
    "SERVICE_UNAVAILABLE": UpstreamUnavailable,
    "FX_RATE_UNAVAILABLE": UpstreamUnavailable,
    "INTERNAL_ERROR": UpstreamUnavailable,
}
# The SDK's fallback when error.code is missing (and for unknown codes).
STATUS_CODES: dict[int, str] = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

# REQUEST_IN_PROGRESS: the same key is still settling; a moment is enough.
IN_PROGRESS_WAIT = 2.0
# CANCEL_TOO_EARLY with no cancel_available_at to go by.
DEFAULT_CANCEL_WAIT = 60.0
PRODUCT_PAGE_LIMIT = 10000
MAX_PRODUCT_PAGES = 50  # a guard against a server that ignores `page`

_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PRICE_GUARD = re.compile(
    r"max[_ ]?price|price guard|too expensive|(?:above|exceeds?) (?:the |your )?max",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Product:
    """A catalogue row: an SDK tier (`id` is the product_id to buy) or a guide pair (no id)."""

    id: str  # "" in the guide's rows: that dialect buys by country and platform
    name: str
    country_id: str
    platform_id: str
    price: Decimal
    currency: str
    stock: int | None = None
    catalog_product_id: str = ""  # routes to the best current offer when set
    operator_id: str = ""
    operator_name: str = ""
    country_name: str = ""  # the guide's rows name what they sell; SDK rows do not
    platform_name: str = ""

    def quote(self) -> Quote:
        return Quote(
            service_id=self.platform_id,
            country_id=self.country_id,
            price=self.price,
            currency=self.currency,
            stock=self.stock,
            product_id=self.id,
            operator=self.operator_id,
        )

    def sells(self, *, country_id: str = "", platform_id: str = "") -> bool:
        """Whether the row is for `country_id` and `platform_id` (either may be "": any)."""
        return country_id in ("", self.country_id) and platform_id in ("", self.platform_id)

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


@dataclass(frozen=True)
class Operator:
    id: str  # "" for the synthesised "any"
    code: str
    name: str = ""
    local_name: str = ""


@dataclass(frozen=True)
class ExchangeRate:
    pair: str
    rate: Decimal  # quote currency per base currency (IDR per USD)
    as_of: datetime | None = None


@dataclass(frozen=True)
class ReactivationCost:
    order_id: str
    cost: Decimal
    currency: str


@dataclass(frozen=True)
class WebhookConfig:
    """GET/PATCH /v1/webhook: where SMSCode pushes order events, and whether it still does."""

    url: str  # "" when none is set
    secret: str  # returned in clear text; "" when none is set
    disabled_at: datetime | None  # set when SMSCode switched delivery off
    disabled_reason: str
    consecutive_failures: int

    @property
    def delivering(self) -> bool:
        return bool(self.url) and self.disabled_at is None


# Webhook order events → the status the order is in once the event happened.
WEBHOOK_EVENTS: dict[str, OrderStatus] = {
    "order.otp_received": OrderStatus.RECEIVED,
    "order.completed": OrderStatus.COMPLETED,
    "order.expired": OrderStatus.EXPIRED,
    "order.canceled": OrderStatus.CANCELLED,
}
WEBHOOK_TEST = "webhook.test"
# The status words a poll of the same order shows (stored as `upstream_status`).
WEBHOOK_RAW_STATUS = {
    "order.otp_received": "OTP_RECEIVED",
    "order.completed": "COMPLETED",
    "order.expired": "EXPIRED",
    "order.canceled": "CANCELED",
}
SIGNATURE_HEADER = "X-Webhook-Signature"
SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True)
class WebhookEvent:
    """One verified delivery: its event name, when SMSCode sent it, and (for order
    events) the order as a poll would report it."""

    name: str
    sent_at: datetime | None
    state: OrderState | None  # None for webhook.test


class SmsCodeClient(ProviderClient):
    kind = "smscode"
    name = "SMSCode"
    default_base_url = "https://api.smscode.gg"
    default_currency = "IDR"
    rate_limit = (300, 60.0)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.BULK_ACTIVE,
            Capability.RESEND,
            Capability.FINISH,
            Capability.MAX_PRICE,
            Capability.PRICING_OPTION,
            Capability.QUANTITY,
            Capability.OPERATOR,
            Capability.IDEMPOTENT_PURCHASE,
        }
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # The guide configures ".../v1"; every path here carries its version.
        self.base_url = re.sub(r"/v[12]$", "", self.base_url)

    @property
    def usd(self) -> bool:
        """True when money is read from /v2 (USD): a USD account on a host with /v2.

        The guide's dialect has /v1 only, so its money is IDR whatever the account says.
        """
        return self.currency.upper() == "USD" and self.dialect != GUIDE

    @property
    def money_currency(self) -> str:
        return currency_of(self.usd)

    def supports(self, capability: Capability) -> bool:
        if self.dialect == GUIDE and capability in GUIDE_LACKS:
            return False
        return super().supports(capability)

    def _money_path(self, path: str) -> str:
        return f"/v2{path}" if self.usd else f"/v1{path}"

    # --- which dialect the host speaks ---------------------------------------------
    @property
    def dialect(self) -> str:
        """The dialect learned for this account ("sdk" or "guide"); "" before any evidence."""
        value = self.facts.get("dialect")
        return value if value in (SDK, GUIDE) else ""

    def _learn_dialect(self, dialect: str) -> None:
        """Remember `dialect`, and what the guide's dialect lacks, with one on_learn call."""
        if self.dialect == dialect:
            return
        lacks = {str(capability) for capability in GUIDE_LACKS}
        missing = set(self.facts.get("missing", [])) - lacks
        if dialect == GUIDE:
            missing |= lacks
        if missing or "missing" in self.facts:
            self.facts["missing"] = sorted(missing)
        log.info("The SMSCode host at %s speaks the %s dialect.", self.base_url, dialect)
        self.learn("dialect", dialect)

    def _learn_shape(self, rows: Any) -> None:
        """Learn the dialect from a catalogue list's rows, when they show it."""
        found = dialect_of_rows(rows)
        if found:
            self._learn_dialect(found)

    def _dialect_call(
        self,
        sdk: Callable[[], T],
        guide: Callable[[], T],
        *,
        teaches: bool = True,
        names_order: bool = False,
    ) -> T:
        """Run the form of the host's dialect (the SDK's until known) and return its result.

        When that form's path answers 404/405, the other dialect's form is tried
        once (see _other_dialect). `teaches`: the SDK form's path exists only in
        the SDK's dialect, so its success shows the host speaks it.
        `names_order`: the call names an order, so ORDER_NOT_FOUND is about the
        order, not the path. Raises what the form raises.
        """
        first = self.dialect or SDK
        forms = {SDK: sdk, GUIDE: guide}
        try:
            result = forms[first]()
        except ProviderError as exc:
            if not path_not_served(exc, names_order=names_order):
                raise
            other = GUIDE if first == SDK else SDK
            return self._other_dialect(other, forms[other], exc, names_order)
        if teaches and not self.dialect:
            self._learn_dialect(first)
        return result

    def _other_dialect(
        self, dialect: str, form: Callable[[], T], missed: ProviderError, names_order: bool
    ) -> T:
        """Run `dialect`'s form after the other one's path answered 404; learn `dialect`
        when its path answers (or it needs no request). Raises `missed` when this
        path is not served either (then the 404 was about the order, or the base
        URL) or the form cannot even be asked (an SDK tier id from a guide row).
        """
        try:
            result = form()
        except ProviderError as exc:
            if path_not_served(exc, names_order=names_order) or refused_here(exc):
                raise missed from None
            if isinstance(exc, Unsupported) or answered(exc):
                self._learn_dialect(dialect)
            raise
        self._learn_dialect(dialect)
        return result

    def _probe(self) -> str:
        """Ask which dialect the host speaks, by the SDK's services list (one read,
        no side effects; a guide host has no such path). Learn and return the
        answer; "" when the host did not say (an error that is not a 404).
        """
        try:
            self._request("GET", "/v1/catalog/services", parse_services)
        except ProviderError as exc:
            if not path_not_served(exc):
                return ""
            self._learn_dialect(GUIDE)
            return GUIDE
        self._learn_dialect(SDK)
        return SDK

    def _guide_lacks(self, what: str) -> Any:
        raise Unsupported(
            f"This SMSCode host speaks the integration guide's API, which has no {what}."
        )

    def _sdk_only(self, what: str) -> None:
        """Raise Unsupported for an SDK-only call when the host is known to speak the guide's."""
        if self.dialect == GUIDE:
            self._guide_lacks(what)

    # --- plumbing ----------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> Call:
        return Call(
            method,
            f"{self.base_url}{path}",
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            json=json,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                **(headers or {}),
            },
            idempotent=idempotent,
        )

    def _request(
        self, method: str, path: str, parse: Callable[[Any], T], *, context: str = "", **kw: Any
    ) -> T:
        """Send one call and return `parse(data)`; raise the mapped ProviderError."""
        call = self._call(method, path, **kw)
        return self._send(call, lambda response: parse(unwrap(response, context)[0]))

    # --- account -------------------------------------------------------------------
    def get_balance(self) -> Balance:
        """Return the balance: IDR from /v1, or USD from /v2 for a USD account."""
        if not self.usd:
            return self._balance(usd=False)
        return self._dialect_call(
            partial(self._balance, usd=True), partial(self._balance, usd=False)
        )

    def _balance(self, *, usd: bool) -> Balance:
        path = "/v2/balance" if usd else "/v1/balance"
        return self._request("GET", path, partial(parse_balance, usd=usd))

    # --- catalog -------------------------------------------------------------------
    def list_countries(self) -> list[Country]:
        """Return the active countries (ISO code upper-cased, dial code without "+").

        Both dialects serve this list; its rows show which one the host speaks.
        """
        return self._request("GET", "/v1/catalog/countries", self._parse_countries)

    def _parse_countries(self, data: Any) -> list[Country]:
        countries = parse_countries(data)
        self._learn_shape(data)
        return countries

    def list_services(self, country_id: str = "") -> list[Service]:
        """Return the active platforms, only those in stock in `country_id` when given.

        The guide's dialect has no services list: its product rows name the platforms.
        """
        return self._dialect_call(
            partial(
                self._request,
                "GET",
                "/v1/catalog/services",
                parse_services,
                params={"country_id": country_id},
            ),
            partial(self._guide_services, country_id),
        )

    def _guide_services(self, country_id: str) -> list[Service]:
        rows = [p for p in self._guide_products(country_id) if p.sells(country_id=country_id)]
        return services_of(rows, in_stock_only=bool(country_id))

    def list_products(
        self, *, country_id: str = "", service_id: str = "", operator_id: str = ""
    ) -> list[Product]:
        """Return the listed products for `country_id` and `service_id`, cheapest first.

        The SDK's dialect lists active, in-stock tiers (`operator_id` filters them);
        the guide's lists one row per country and platform, sold-out ones included.
        """
        rows = self._dialect_call(
            partial(self._sdk_products, country_id, service_id, operator_id),
            partial(self._guide_products, country_id),
            teaches=self.usd,  # /v2 is the SDK's alone; /v1's rows teach by their shape
        )
        wanted = [p for p in rows if p.sells(country_id=country_id, platform_id=service_id)]
        return sorted(wanted, key=lambda p: p.price)

    def _sdk_products(self, country_id: str, service_id: str, operator_id: str) -> list[Product]:
        """Page through /catalog/products 10000 at a time: one request for any realistic catalog."""
        params = {
            "country_id": country_id,
            "platform_id": service_id,
            "operator_id": operator_id,
            "limit": PRODUCT_PAGE_LIMIT,
            "sort": "price_asc",
        }
        products: list[Product] = []
        for page in range(1, MAX_PRODUCT_PAGES + 1):
            call = self._call(
                "GET", self._money_path("/catalog/products"), params=params | {"page": page}
            )
            rows, page_limit = self._send(call, self._parse_product_page)
            products.extend(rows)
            if not rows or len(rows) < page_limit or self.dialect == GUIDE:
                break  # the guide's list comes whole, whatever `page` says
        return products

    def _parse_product_page(self, response: Response) -> tuple[list[Product], int]:
        data, meta = unwrap(response)
        expect(isinstance(data, list), "product list")
        limit = to_int_or_none(meta.get("limit")) or PRODUCT_PAGE_LIMIT
        rows = [parse_product(item, usd=self.usd) for item in data]
        self._learn_shape(data)
        return [row for row in rows if row is not None], limit

    def _guide_products(self, country_id: str) -> list[Product]:
        """The guide's catalogue: /v1/catalog/products, filtered by country only, in IDR."""
        params = {"country_id": country_id}
        return self._request(
            "GET", "/v1/catalog/products", self._parse_guide_products, params=params
        )

    def _parse_guide_products(self, data: Any) -> list[Product]:
        expect(isinstance(data, list), "product list")
        rows = [parse_product(item, usd=False) for item in data]
        self._learn_shape(data)
        return [row for row in rows if row is not None]

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Return one quote per product (tier), with its product_id and operator id."""
        products = self.list_products(country_id=country_id, service_id=service_id)
        return [product.quote() for product in products]

    def fetch_catalog(self) -> Catalog:
        """Countries, services and quotes: three requests in the SDK's dialect, two in the
        guide's, whose one product list names the platforms as well."""
        countries = self.list_countries()  # teaches the dialect
        if self.dialect != GUIDE:
            return Catalog(countries, self.list_services(), quotes=self.get_quotes())
        products = self.list_products()
        quotes = [product.quote() for product in products]
        return Catalog(countries, services_of(products, in_stock_only=False), quotes=quotes)

    def list_operators(self, country_id: str, platform_id: str) -> list[Operator]:
        """Return the operators to choose from ("any" first); [] when there is no choice.

        Raises InvalidRequest without both ids (the API requires them), Unsupported
        on a host that speaks the guide's dialect.
        """
        self._sdk_only("choice of operators")
        if not (country_id and platform_id):
            raise InvalidRequest("SMSCode lists operators for one country and platform.")
        params = {"country_id": country_id, "platform_id": platform_id}
        return self._request("GET", "/v1/catalog/operators", parse_operators, params=params)

    def get_exchange_rate(self) -> ExchangeRate:
        """Return the USD/IDR rate SMSCode converts with (Unsupported in the guide's dialect)."""
        self._sdk_only("exchange rate")
        path = self._money_path("/catalog/exchange-rate")
        return self._request("GET", path, parse_exchange_rate, params={"pair": "USD/IDR"})

    # --- activations ---------------------------------------------------------------
    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Buy `request.quantity` numbers; return one Purchase per number issued.

        Sends an idempotency key (the request's, or a fresh one) in both dialects,
        so the Transport may repeat the call safely. SDK dialect: without a
        product id the cheapest listed product for the service and country is
        bought. Guide dialect: one number by country and platform, at the price
        its catalogue lists. Raises OutOfStock, PriceTooHigh, InsufficientBalance,
        Unsupported (pools, area codes, carriers, voice; in the guide's dialect
        also quantities, operators and routing policies) and the rest of the
        taxonomy.
        """
        check_purchase_request(request)
        key = request.idempotency_key or uuid.uuid4().hex
        if not _KEY.fullmatch(key):
            raise InvalidRequest("An idempotency key is 1-128 letters, digits, '_' or '-'.")
        # The catalogue read a purchase needs anyway also shows the dialect.
        products = self._products_for(request) if self._looks_up(request) else None
        return self._dialect_call(
            partial(self._purchase_sdk, request, key, products),
            partial(self._purchase_guide, request, key, products),
        )

    def _looks_up(self, request: PurchaseRequest) -> bool:
        """Whether buying reads the catalogue first: always in the guide's dialect (for
        the price and the stock), in the SDK's unless a named product is bought unguarded."""
        return self.dialect == GUIDE or not request.product_id or request.max_price is not None

    def _products_for(self, request: PurchaseRequest) -> list[Product]:
        return self.list_products(
            country_id=request.country_id,
            service_id=request.service_id,
            operator_id="" if request.product_id else request.operator,
        )

    def _purchase_sdk(
        self, request: PurchaseRequest, key: str, products: list[Product] | None
    ) -> list[Purchase]:
        """POST /orders/create with a product id or a routed catalog product id."""
        return self._request(
            "POST",
            self._money_path("/orders/create"),
            partial(parse_purchases, usd=self.usd),
            json=self._create_body(request, products),
            headers={"idempotency-key": key},
            idempotent=True,  # the server applies a key at most once
        )

    def _create_body(
        self, request: PurchaseRequest, products: list[Product] | None
    ) -> dict[str, Any]:
        """Exactly one of product_id / catalog_product_id, plus routing options where allowed."""
        body: dict[str, Any] = {"quantity": request.quantity}
        product = self._resolve_product(request, products or [])
        if product is None:
            return body | {"product_id": wire_id(request.product_id)}
        if product.catalog_product_id and not request.product_id:
            # The routed path: the server picks the best current offer and
            # honours the price guard, policy and operator itself.
            routed = {"catalog_product_id": wire_id(product.catalog_product_id)}
            return body | routed | self._routing(request)
        # An exact tier takes no routing options, so guard the price here.
        guard_price(product, request.max_price)
        return body | {"product_id": wire_id(product.id)}

    def _resolve_product(self, request: PurchaseRequest, products: list[Product]) -> Product | None:
        """The product to buy from `products`; None to buy request.product_id blind."""
        if request.product_id and request.max_price is None:
            return None
        if request.product_id:
            products = [p for p in products if p.id == request.product_id]
        return cheapest_in_stock(products)

    def _routing(self, request: PurchaseRequest) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.max_price is not None:
            options["max_price"] = self._wire_money(request.max_price)
        if request.pricing_option is not None:
            options["policy"] = request.pricing_option.value
        if request.operator:
            options["operator_id"] = wire_id(request.operator)
        return options

    def _wire_money(self, amount: Decimal) -> int | str:
        """max_price as the API takes it: whole IDR (floored) on /v1, a USD string on /v2."""
        if self.usd:
            return format(amount, "f")
        return int(amount.to_integral_value(rounding=ROUND_FLOOR))

    def _purchase_guide(
        self, request: PurchaseRequest, key: str, products: list[Product] | None
    ) -> list[Purchase]:
        """POST /v1/orders {country_id, platform_id}: the guide's create, one number.

        Its flat result carries no price, so the cost is the price the catalogue
        lists for the pair, read just before: a guide host sells a country and
        platform at that price.
        """
        check_guide_request(request)
        if products is None:
            products = self._guide_products(request.country_id)
        pair = [
            p
            for p in products
            if p.sells(country_id=request.country_id, platform_id=request.service_id)
        ]
        product = cheapest_in_stock(pair)
        guard_price(product, request.max_price)
        body = {
            "country_id": wire_id(request.country_id),
            "platform_id": wire_id(request.service_id),
        }
        return self._request(
            "POST",
            "/v1/orders",
            partial(parse_purchases, usd=False, listed_price=product.price),
            json=body,
            headers={"idempotency-key": key},
            idempotent=True,
        )

    def get_order(self, order_id: str) -> OrderState:
        """Return one order (always /v1: no FX needed to poll); NotFound when unknown.

        Both dialects serve this path; the guide's view is flat and lower-case.
        """
        return self._request(
            "GET",
            f"/v1/orders/{path_id(order_id)}",
            lambda data: parse_order(data, usd=False, order_id=order_id),
        )

    def list_active_orders(self) -> list[OrderState]:
        """Return every ACTIVE and OTP_RECEIVED order with its code, in one request.

        The active view carries no phone number and no amount. Unsupported in
        the guide's dialect, which has no such list.
        """
        return self._dialect_call(
            partial(self._request, "GET", "/v1/orders/active", parse_orders),
            partial(self._guide_lacks, "list of active orders"),
        )

    def list_orders(self, limit: int = 20, offset: int = 0, status: str = "") -> list[OrderState]:
        """Return orders newest first (limit 1-100), optionally only those in `status`.

        Unsupported in the guide's dialect, which has no order list.
        """
        params = {"limit": limit, "offset": offset, "status": status}
        return self._dialect_call(
            partial(
                self._request,
                "GET",
                self._money_path("/orders"),
                partial(parse_orders, usd=self.usd),
                params=params,
            ),
            partial(self._guide_lacks, "order list"),
        )

    def cancel(self, order_id: str) -> CancelResult:
        """Cancel an order before any SMS arrives; return the refund (None when the
        guide's answer does not say).

        SDK: POST /orders/cancel {id}; guide: DELETE /orders/{id}. Raises
        CancelTooEarly with retry_after (from details, Retry-After, or the
        order's cancel_available_at: one extra read), InvalidRequest once an SMS
        has arrived, NotFound for an unknown order. Never retried: a cancel has
        no idempotency key.
        """
        try:
            return self._dialect_call(
                partial(self._cancel_sdk, order_id),
                partial(self._cancel_guide, order_id),
                names_order=True,
            )
        except CancelTooEarly as exc:
            if exc.retry_after is None:
                exc.retry_after = self._seconds_until_cancel(order_id)
            raise

    def _cancel_sdk(self, order_id: str) -> CancelResult:
        return self._request(
            "POST",
            self._money_path("/orders/cancel"),
            partial(parse_cancel, order_id=order_id, usd=self.usd),
            json={"id": wire_id(order_id)},
            idempotent=False,
        )

    def _cancel_guide(self, order_id: str) -> CancelResult:
        return self._request(
            "DELETE",
            f"/v1/orders/{path_id(order_id)}",
            partial(parse_cancel, order_id=order_id, usd=False),
            idempotent=False,
        )

    def _seconds_until_cancel(self, order_id: str) -> float:
        """Seconds until the order's cancel window opens; the default when unknown."""
        try:
            opens = self.get_order(order_id).cancel_available_at
        except ProviderError:
            return DEFAULT_CANCEL_WAIT
        if opens is None:
            return DEFAULT_CANCEL_WAIT
        return max(1.0, (opens - datetime.now(UTC)).total_seconds())

    def finish(self, order_id: str) -> None:
        """Mark an order whose SMS arrived as done; InvalidRequest when it cannot be finished.

        A no-op in the guide's dialect: there an order is completed by its code.
        """
        if self.dialect == GUIDE:
            return None
        try:
            self._request(
                "POST",
                "/v1/orders/finish",
                lambda data: expect(isinstance(data, dict), "finish result"),
                json={"id": wire_id(order_id)},
                idempotent=False,
            )
        except ProviderError as exc:
            # A 404 is an unknown order, or a guide host: one probe tells which.
            if not path_not_served(exc) or self._probe() != GUIDE:
                raise
        return None

    def resend(self, order_id: str) -> ResendResult:
        """Ask for another SMS on the same order; return that (same) order id.

        Raises InvalidRequest when SMSCode refuses (no SMS yet, cooldown, final),
        Unsupported in the guide's dialect.
        """
        if self.dialect == GUIDE:
            self._guide_lacks("resend")
        try:
            return self._request(
                "POST",
                "/v1/orders/resend",
                lambda data: parse_resend(data, order_id),
                json={"id": wire_id(order_id)},
                idempotent=False,
            )
        except ProviderError as exc:
            if not path_not_served(exc) or self._probe() != GUIDE:
                raise
            return self._guide_lacks("resend")

    def reactivate(
        self, order_id: str, *, max_price: Decimal | None = None, idempotency_key: str = ""
    ) -> Purchase:
        """Rent the same number again as a new child order (new id); return it.

        Raises InvalidRequest when the order cannot be reactivated, PriceTooHigh
        when the cost is above `max_price`, Unsupported in the guide's dialect.
        """
        self._sdk_only("reactivation")
        key = idempotency_key or uuid.uuid4().hex
        body: dict[str, Any] = {"id": wire_id(order_id)}
        if max_price is not None:
            body["max_price"] = self._wire_money(max_price)
        return self._request(
            "POST",
            self._money_path("/orders/reactivate"),
            lambda data: parse_purchases(data, usd=self.usd)[0],
            context="reactivate",
            json=body,
            headers={"idempotency-key": key},
            idempotent=True,
        )

    def reactivate_options(self, order_id: str) -> ReactivationCost:
        """Return what reactivating would cost (no charge); InvalidRequest if it cannot."""
        self._sdk_only("reactivation")
        return self._request(
            "GET",
            self._money_path(f"/orders/{path_id(order_id)}/reactivate-options"),
            lambda data: self._parse_reactivation_cost(data, order_id),
        )

    def _parse_reactivation_cost(self, data: Any, order_id: str) -> ReactivationCost:
        expect(isinstance(data, dict), "reactivation options")
        cost = money(data.get("cost"), usd=self.usd, what="cost")
        return ReactivationCost(order_id=order_id, cost=cost, currency=self.money_currency)

    # --- webhook (push) --------------------------------------------------------------
    def get_webhook(self) -> WebhookConfig:
        """Where SMSCode pushes order events (GET /v1/webhook); Unsupported in the
        guide's dialect, which has no webhooks."""
        self._sdk_only("webhooks")
        return self._request("GET", "/v1/webhook", parse_webhook_config)

    def set_webhook(self, *, url: str, secret: str) -> WebhookConfig:
        """Register `url`, signed with `secret` (PATCH /v1/webhook). Any successful
        PATCH re-enables delivery and resets the failure count. Never retried."""
        self._sdk_only("webhooks")
        return self._request(
            "PATCH",
            "/v1/webhook",
            parse_webhook_config,
            json={"webhook_url": url, "webhook_secret": secret},
            idempotent=False,
        )

    def test_webhook(self) -> int:
        """Have SMSCode send a `webhook.test` event; return the status our URL answered."""
        self._sdk_only("webhooks")
        return self._request(
            "POST",
            "/v1/webhook/test",
            lambda data: (
                to_int_or_none(data.get("status_code") if isinstance(data, dict) else None) or 0
            ),
            idempotent=False,
        )


# --- envelope and errors -------------------------------------------------------------------


def unwrap(response: Response, context: str = "") -> tuple[Any, dict]:
    """Return (data, meta) of a successful envelope; raise the mapped error otherwise.

    A response fails when its status is not 2xx or its body says
    `success: false` (even on a 200).
    """
    ok = 200 <= response.status < 300
    try:
        body = response.json()
    except UpstreamUnavailable:
        if ok:
            raise
        body = None
    enveloped = isinstance(body, dict) and ("success" in body or "error" in body)
    if ok and isinstance(body, dict) and body.get("success", True) is True:
        meta = body.get("meta")
        # The SDK's rule: no `data` key means the whole body is the data.
        return body.get("data", body), meta if isinstance(meta, dict) else {}
    if ok and isinstance(body, list):
        return body, {}
    error = bare_error(response) if not enveloped else envelope_error(response, body, context)
    # Kept for the dialect logic: a 404 may mean "no such path" rather than "no such order".
    error.details["http_status"] = response.status
    raise error


def bare_error(response: Response) -> ProviderError:
    """A failure without SMSCode's envelope (413, a proxy page, a 2xx that is not an object)."""
    if 200 <= response.status < 300:
        return UpstreamUnavailable("SMSCode sent a body that is not its envelope.")
    if response.status == 404:
        # A real "not found" comes in the envelope; a bare 404 means a wrong
        # base URL or a proxy, and must not make the sync engine drop an order.
        return UpstreamUnavailable("SMSCode answered 404 without its envelope; check the base URL.")
    code = STATUS_CODES.get(response.status, "UNKNOWN_ERROR")
    return make_error(code, response.status, "", {}, response.retry_after(), "")


def envelope_error(response: Response, body: dict, context: str) -> ProviderError:
    """Map `error{code, message, details}`: by code, or by HTTP status when the code is missing."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code")
    if not (isinstance(code, str) and code.strip()):
        code = STATUS_CODES.get(response.status, "UNKNOWN_ERROR")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    request_id = response.headers.get("X-Request-Id") or response.headers.get("x-request-id")
    if request_id:  # SMSCode support asks for it
        details = details | {"request_id": request_id}
    message = plain_text(error.get("message"))
    return make_error(
        code.strip().upper(), response.status, message, details, response.retry_after(), context
    )


def make_error(
    code: str,
    status: int,
    message: str,
    details: dict,
    header_wait: float | None,
    context: str,
) -> ProviderError:
    """Build the taxonomy error for one SMSCode error code."""
    cls = ERRORS.get(code) or status_error(status)
    if cls is OutOfStock and is_price_guard(message, details):
        cls = PriceTooHigh
    if code == "VALIDATION_ERROR" and context == "reactivate" and is_price_guard(message, details):
        cls = PriceTooHigh  # "reactivation cost above max_price" is a 422 validation error
    wait = retry_after(details, header_wait)
    if code == "REQUEST_IN_PROGRESS" and wait is None:
        wait = IN_PROGRESS_WAIT
    return cls(
        message,
        retry_after=wait if cls in (RateLimited, UpstreamUnavailable, CancelTooEarly) else None,
        provider_code=code,
        field_errors=field_errors(details) if cls is InvalidRequest else None,
        details=details,
    )


def path_not_served(exc: ProviderError, *, names_order: bool = False) -> bool:
    """True when the host answered 404/405: the path may not exist in its dialect.

    When the call names an order, ORDER_NOT_FOUND is about the order, not the path.
    """
    if exc.details.get("http_status") not in PATH_NOT_SERVED:
        return False
    return not (names_order and exc.provider_code == "ORDER_NOT_FOUND")


def answered(exc: ProviderError) -> bool:
    """True when the error is the host's own answer about the request, on a path it serves."""
    status = exc.details.get("http_status")
    return isinstance(status, int) and status < 500 and status not in NOT_ABOUT_THE_PATH


def refused_here(exc: ProviderError) -> bool:
    """True for a request this client refused to build: it never reached the host."""
    return isinstance(exc, InvalidRequest) and "http_status" not in exc.details


def status_error(status: int) -> type[ProviderError]:
    """The error class for an unknown code, decided by the HTTP status."""
    known = ERRORS.get(STATUS_CODES.get(status, ""))
    if known is not None:
        return known
    if 400 <= status < 500:
        return InvalidRequest
    return UpstreamUnavailable  # a 2xx with success:false and no code, 502, 504, ...


def is_price_guard(message: str, details: dict) -> bool:
    """True when a refusal names the max_price guard rather than stock."""
    if "max_price" in details:
        return True
    reason = plain_text(details.get("reason"))
    return bool(_PRICE_GUARD.search(message) or _PRICE_GUARD.search(reason))


def retry_after(details: dict, header_wait: float | None) -> float | None:
    """Seconds to wait: details.retry_after_seconds, then details.until, then Retry-After."""
    seconds = to_int_or_none(details.get("retry_after_seconds"))
    if seconds is not None and seconds >= 0:
        return float(seconds)
    until = from_iso(details.get("until")) or from_iso(details.get("cancel_available_at"))
    if until is not None:
        return max(1.0, (until - datetime.now(UTC)).total_seconds())
    return header_wait


def field_errors(details: dict) -> dict[str, str]:
    """Per-field messages from `details`, in whichever of the common shapes it comes."""
    if isinstance(details.get("field"), str):
        return {details["field"]: plain_text(details.get("message")) or "invalid"}
    source = next(
        (details[k] for k in ("fields", "errors") if isinstance(details.get(k), dict | list)),
        details,
    )
    if isinstance(source, list):
        pairs = [(i.get("field"), i.get("message")) for i in source if isinstance(i, dict)]
        return {f: plain_text(m) for f, m in pairs if isinstance(f, str)}
    out = {}
    for name, value in source.items():
        if isinstance(value, list):
            value = "; ".join(plain_text(v) for v in value)
        if isinstance(value, str) and name != "request_id":
            out[str(name)] = value
    return out


# --- request helpers ---------------------------------------------------------------------


def check_purchase_request(request: PurchaseRequest) -> None:
    """Raise for options SMSCode cannot honour; they would change what is bought."""
    if not 1 <= request.quantity <= 100:
        raise InvalidRequest("SMSCode sells 1 to 100 numbers per order.")
    refused = {
        "choosing a pool": bool(request.pool),
        "area codes": bool(request.area_codes),
        "choosing a carrier (choose an operator)": bool(request.carrier),
        "voice activations": request.activation_type != ActivationType.SMS,
    }
    for what, asked in refused.items():
        if asked:
            raise Unsupported(f"SMSCode does not support {what}.")


def check_guide_request(request: PurchaseRequest) -> None:
    """Raise Unsupported for what the guide's create ({country_id, platform_id}) cannot say."""
    cheapest = request.pricing_option in (None, PricingOption.CHEAPEST)
    refused = {
        "more than one number per order": request.quantity != 1,
        "choosing an operator": bool(request.operator),
        "routing policies": not cheapest,
        "buying a product id (it buys by country and platform)": not (
            request.country_id and request.service_id
        ),
    }
    for what, asked in refused.items():
        if asked:
            raise Unsupported(
                f"This SMSCode host speaks the integration guide's API, which has no {what}."
            )


def cheapest_in_stock(products: list[Product]) -> Product:
    """The cheapest product with stock; OutOfStock when there is none."""
    in_stock = [p for p in products if p.in_stock]
    if not in_stock:
        raise OutOfStock("SMSCode lists no number in stock for this service and country.")
    return min(in_stock, key=lambda p: p.price)


def guard_price(product: Product, max_price: Decimal | None) -> None:
    """Raise PriceTooHigh when `product` costs more than `max_price`."""
    if max_price is not None and product.price > max_price:
        raise PriceTooHigh(
            f"The number costs {product.price} {product.currency}, "
            f"above the maximum of {max_price}."
        )


def wire_id(value: str) -> int | str:
    """An id as the API takes it: an int ("12345" → 12345), or the guide's string as is."""
    text = str(value).strip()
    if not text:
        raise InvalidRequest("An id is required.")
    return int(text) if text.isdigit() else text


def path_id(value: str) -> str:
    return quote(str(wire_id(value)), safe="")


# --- response helpers ---------------------------------------------------------------------


def currency_of(usd: bool) -> str:
    return "USD" if usd else "IDR"


def dialect_of_rows(rows: Any) -> str:
    """The dialect a catalogue list is written in: "sdk" when its rows carry `id`,
    "guide" when they are keyed by `country_id` alone; "" when it cannot tell."""
    if not isinstance(rows, list):
        return ""
    objects = [row for row in rows if isinstance(row, dict)]
    if not objects:
        return ""
    if all("id" in row for row in objects):
        return SDK
    if all("id" not in row and "country_id" in row for row in objects):
        return GUIDE
    return ""


def money(value: Any, *, usd: bool, what: str) -> Decimal:
    """A money field: a /v2 money object when `usd`, else a /v1 IDR number."""
    return money_v2(value, what=what) if usd else to_decimal(value, what=what)


def money_v2(value: Any, *, what: str) -> Decimal:
    """A /v2 money object's USD amount; UpstreamUnavailable unless it is well formed.

    Well formed: `amount` a decimal string, `currency` "USD", `canonical_amount`
    an int (not a bool, not a float), `canonical_currency` "IDR".
    """
    expect(isinstance(value, dict), f"{what} (not a money object)")
    canonical = value.get("canonical_amount")
    expect(
        isinstance(value.get("amount"), str)
        and value.get("currency") == "USD"
        and type(canonical) is int
        and value.get("canonical_currency") == "IDR",
        f"{what} (malformed money object)",
    )
    return to_decimal(value["amount"], what=what)


def order_id_of(item: dict, default: str = "") -> str:
    """`id` on order objects, `order_id` in the guide's flat shape; int or string."""
    value = item.get("id")
    if value is None:
        value = item.get("order_id")
    return plain_text(value) or wire_text(default, "order id")


def wire_text(value: Any, what: str) -> str:
    """A required id (int or string on the wire) as text; UpstreamUnavailable otherwise."""
    text = plain_text(value)
    expect(bool(text), what)
    return text


def order_status(raw: str, *, arrived: bool) -> OrderStatus:
    """The normalised status (case-insensitive); an SMS in an open order means RECEIVED."""
    status = ORDER_STATUSES.get(raw.lower())
    if status is None:
        log.warning("SMSCode sent an unknown order status %r", raw[:40])
        status = OrderStatus.UNKNOWN
    if arrived and not status.is_final:
        return OrderStatus.RECEIVED
    return status


def parse_order(item: Any, *, usd: bool, order_id: str = "") -> OrderState:
    """Any order view (full, active, created, the guide's) as an OrderState.

    `order_id` stands in when the body has no id (the guide's poll examples).
    """
    expect(isinstance(item, dict), "order")
    raw_status = plain_text(item.get("status"))
    code, text = plain_text(item.get("otp_code")), plain_text(item.get("otp_message"))
    amount = item.get("amount")
    cost = None if amount is None else money(amount, usd=usd, what="amount")
    can_resend = item.get("can_resend")
    return OrderState(
        order_id=order_id_of(item, default=order_id),
        status=order_status(raw_status, arrived=bool(code or text)),
        raw_status=raw_status,
        code=code,
        full_text=text,
        phone_number=phone_text(item.get("phone_number")),
        expires_at=from_iso(item.get("expires_at")),
        cost=cost,
        currency=("USD" if usd else "IDR") if cost is not None else "",
        sms_revision=to_int_or_none(item.get("sms_revision")),
        cancel_available_at=from_iso(item.get("cancel_available_at")),
        can_resend=can_resend if isinstance(can_resend, bool) else None,
        service=plain_text(item.get("platform")),
        country=plain_text(item.get("country")),
    )


def parse_orders(data: Any, *, usd: bool = False) -> list[OrderState]:
    expect(isinstance(data, list), "order list")
    return [parse_order(item, usd=usd) for item in data]


def parse_balance(data: Any, *, usd: bool) -> Balance:
    """/v1's {currency: "IDR", balance: int} or /v2's {balance: money object}."""
    expect(isinstance(data, dict), "balance")
    return Balance(money(data.get("balance"), usd=usd, what="balance"), currency_of(usd))


def parse_product(item: Any, *, usd: bool) -> Product | None:
    """An SDK tier row or a guide row (no `id`, `available_count`); None when switched off."""
    expect(isinstance(item, dict), "product")
    if item.get("active") is False:
        return None
    stock = to_int_or_none(item.get("available"))
    if stock is None:
        stock = to_int_or_none(item.get("available_count"))  # the guide's name
    product_id = plain_text(item.get("id"))
    country_id, platform_id = (
        plain_text(item.get("country_id")),
        plain_text(item.get("platform_id")),
    )
    # A row is buyable by its id (SDK) or by its country and platform (guide).
    expect(bool(product_id or (country_id and platform_id)), "product id")
    return Product(
        id=product_id,
        name=plain_text(item.get("name")),
        country_id=country_id,
        platform_id=platform_id,
        price=money(item.get("price"), usd=usd, what="price"),
        currency=currency_of(usd),
        stock=stock,
        catalog_product_id=plain_text(item.get("catalog_product_id")),
        operator_id=plain_text(item.get("operator_id")),
        operator_name=plain_text(item.get("operator_name")),
        country_name=first_text(item, "country_name", "country"),
        platform_name=first_text(item, "platform_name", "platform"),
    )


def services_of(products: list[Product], *, in_stock_only: bool) -> list[Service]:
    """The platforms a product list sells (the guide's dialect has no services list)."""
    services: dict[str, Service] = {}
    for product in products:
        if product.platform_id and (product.in_stock or not in_stock_only):
            services.setdefault(
                product.platform_id, Service(id=product.platform_id, name=product.platform_name)
            )
    return sorted(services.values(), key=lambda s: (len(s.id), s.id))


def parse_purchases(data: Any, *, usd: bool, listed_price: Decimal | None = None) -> list[Purchase]:
    """{orders: [...], failed_count} or the guide's flat order → the numbers issued.

    `listed_price` stands in for a cost the answer does not carry (the guide's).
    """
    expect(isinstance(data, dict), "order result")
    items = data.get("orders") if "orders" in data else [data]
    expect(isinstance(items, list), "order list")
    if not items:
        failed = to_int_or_none(data.get("failed_count")) or 0
        raise OutOfStock(f"SMSCode issued no number ({failed} failed).")
    purchases = [parse_purchase(item, usd=usd) for item in items]
    if listed_price is None:
        return purchases
    return [p if p.cost is not None else replace(p, cost=listed_price) for p in purchases]


def parse_purchase(item: Any, *, usd: bool) -> Purchase:
    expect(isinstance(item, dict), "order")
    raw_status = plain_text(item.get("status"))
    amount = item.get("amount")
    return Purchase(
        order_id=order_id_of(item),
        phone_number=phone_text(item.get("phone_number")),
        cost=None if amount is None else money(amount, usd=usd, what="amount"),
        currency=currency_of(usd),
        expires_at=from_iso(item.get("expires_at")),
        status=ORDER_STATUSES.get(raw_status.lower(), OrderStatus.WAITING),
        raw_status=raw_status,
        cancel_available_at=from_iso(item.get("cancel_available_at")),
    )


def parse_cancel(data: Any, *, order_id: str, usd: bool) -> CancelResult:
    """The SDK's {order_id, status, refund_amount, new_balance}, or the guide's answer,
    which may say no more than the order id and "cancelled"."""
    expect(isinstance(data, dict), "cancel result")
    refund = data.get("refund_amount")
    raw_status = plain_text(data.get("status"))
    return CancelResult(
        order_id=plain_text(data.get("order_id")) or order_id,
        refunded=None if refund is None else money(refund, usd=usd, what="refund"),
        currency=currency_of(usd),
        status=ORDER_STATUSES.get(raw_status.lower(), OrderStatus.CANCELLED),
    )


def parse_resend(data: Any, order_id: str) -> ResendResult:
    expect(isinstance(data, dict), "resend result")
    if data.get("resent") is False:
        raise InvalidRequest("SMSCode did not resend the SMS.", provider_code="RESENT_FALSE")
    return ResendResult(order_id=plain_text(data.get("order_id")) or order_id)


def active_rows(data: Any, what: str) -> list[dict]:
    """The rows of a catalog list that are objects and not switched off."""
    expect(isinstance(data, list), f"{what} list")
    expect(all(isinstance(row, dict) for row in data), what)
    return [row for row in data if row.get("active") is not False]


def first_text(row: dict, *names: str) -> str:
    """The first of `names` that holds a string or number, as text."""
    return next((text for text in (plain_text(row.get(n)) for n in names) if text), "")


def parse_countries(data: Any) -> list[Country]:
    """SDK rows {id, code, name, dial_code, ...} or the guide's {country_id, name}."""
    return [
        Country(
            id=wire_text(first_text(row, "id", "country_id"), "country id"),
            name=first_text(row, "name", "country_name", "id", "country_id"),
            iso=plain_text(row.get("code")).upper(),
            dial_code=plain_text(row.get("dial_code")).lstrip("+"),
        )
        for row in active_rows(data, "country")
    ]


def parse_services(data: Any) -> list[Service]:
    return [
        Service(
            id=wire_text(row.get("id"), "service id"),
            name=plain_text(row.get("name")),
            code=plain_text(row.get("code")),
        )
        for row in active_rows(data, "service")
    ]


def parse_operators(data: Any) -> list[Operator]:
    expect(isinstance(data, list), "operator list")
    expect(all(isinstance(row, dict) for row in data), "operator")
    return [
        Operator(
            id=plain_text(row.get("operator_id")),
            code=plain_text(row.get("code")),
            name=plain_text(row.get("name")),
            local_name=plain_text(row.get("local_name")),
        )
        for row in data
    ]


def parse_exchange_rate(data: Any) -> ExchangeRate:
    """/v1's {pair, rate, ...} or /v2's fx object {pair, rate, rate_as_of | as_of}."""
    expect(isinstance(data, dict), "exchange rate")
    return ExchangeRate(
        pair=plain_text(data.get("pair")) or "USD/IDR",
        rate=to_decimal(data.get("rate"), what="exchange rate"),
        as_of=from_iso(data.get("rate_as_of")) or from_iso(data.get("as_of")),
    )


# --- webhooks ----------------------------------------------------------------------------


def parse_webhook_config(data: Any) -> WebhookConfig:
    expect(isinstance(data, dict), "webhook configuration")
    failures = to_int_or_none(data.get("webhook_consecutive_failures"))
    return WebhookConfig(
        url=plain_text(data.get("webhook_url")),
        secret=data["webhook_secret"] if isinstance(data.get("webhook_secret"), str) else "",
        disabled_at=from_iso(data.get("webhook_disabled_at")),
        disabled_reason=plain_text(data.get("webhook_disabled_reason"))[:100],
        consecutive_failures=failures or 0,
    )


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Webhook-Signature value SMSCode sends: HMAC-SHA256 of the exact raw body,
    keyed with the secret's UTF-8 bytes (not hex-decoded)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body` with `secret`, as the SDK checks it: the `sha256=`
    prefix, hex that decodes to exactly 32 bytes, a constant-time compare; False on
    anything malformed (and when there is no secret to check with)."""
    if not secret or not isinstance(header, str) or not header.startswith(SIGNATURE_PREFIX):
        return False
    try:
        given = bytes.fromhex(header[len(SIGNATURE_PREFIX) :])
    except ValueError:
        return False
    if len(given) != 32:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def parse_webhook_event(body: bytes) -> WebhookEvent:
    """A delivery's JSON `{event, timestamp, data}` (already verified) as a WebhookEvent.

    Order events carry no status and no amount: the event names the status. On
    terminal events `sms_revision` is null. Raises InvalidRequest for a body that is
    not such an object or names an unknown event (as the SDK rejects them).
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The webhook body is not JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise InvalidRequest("The webhook body has no event name.")
    name = payload["event"]
    sent_at = from_iso(payload.get("timestamp"))
    if name == WEBHOOK_TEST:
        return WebhookEvent(name=name, sent_at=sent_at, state=None)
    if name not in WEBHOOK_EVENTS:
        raise InvalidRequest(f"Unknown webhook event {name[:40]!r}.")
    data = payload.get("data")
    if not isinstance(data, dict) or not plain_text(data.get("order_id")):
        raise InvalidRequest("The webhook event names no order.")
    code, text = plain_text(data.get("otp_code")), plain_text(data.get("otp_message"))
    can_resend = data.get("can_resend")
    state = OrderState(
        order_id=plain_text(data.get("order_id")),
        status=WEBHOOK_EVENTS[name],
        raw_status=WEBHOOK_RAW_STATUS[name],
        code=code,
        full_text=text,
        phone_number=phone_text(data.get("phone_number")),
        sms_revision=to_int_or_none(data.get("sms_revision")),
        cancel_available_at=from_iso(data.get("cancel_available_at")),
        can_resend=can_resend if isinstance(can_resend, bool) else None,
        service=plain_text(data.get("platform")),
        country=plain_text(data.get("country")),
    )
    return WebhookEvent(name=name, sent_at=sent_at, state=state)
