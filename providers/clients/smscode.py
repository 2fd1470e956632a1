"""SMSCode: REST JSON with a `{success, data | error{code, message, details}}` envelope.

Wire format: smscode-wire-facts.md (the live API, which wins) and
smscode-api-integration-guide.txt (older shapes still accepted: the flat
create result, lower-case statuses, `cancelled`, `available_count`, the guide's
error codes, string order ids).

The base URL carries no version; paths start with /v1 (money as IDR integers)
or /v2 (USD money objects over the same IDR ledger). An account whose currency
is USD reads money from /v2, any other from /v1. Order polling and the active
list always use /v1: they carry no FX and are the same on both.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
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
    Country,
    OrderState,
    OrderStatus,
    Purchase,
    PurchaseRequest,
    Quote,
    ResendResult,
    Service,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    """A catalog tier: `id` is the product_id for an exact purchase."""

    id: str
    name: str
    country_id: str
    platform_id: str
    price: Decimal
    currency: str
    stock: int | None = None
    catalog_product_id: str = ""  # routes to the best current offer when set
    operator_id: str = ""
    operator_name: str = ""

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
        """True when money is read from /v2 (USD); otherwise /v1 (IDR)."""
        return self.currency.upper() == "USD"

    @property
    def money_currency(self) -> str:
        return "USD" if self.usd else "IDR"

    def _money_path(self, path: str) -> str:
        return f"/v2{path}" if self.usd else f"/v1{path}"

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
        return self._request("GET", self._money_path("/balance"), self._parse_balance)

    def _parse_balance(self, data: Any) -> Balance:
        expect(isinstance(data, dict), "balance")
        amount = self._money(data.get("balance"), what="balance")
        return Balance(amount, self.money_currency)

    # --- catalog -------------------------------------------------------------------
    def list_countries(self) -> list[Country]:
        """Return the active countries (ISO code upper-cased, dial code without "+")."""
        return self._request("GET", "/v1/catalog/countries", parse_countries)

    def list_services(self, country_id: str = "") -> list[Service]:
        """Return the active platforms, only those in stock in `country_id` when given."""
        return self._request(
            "GET", "/v1/catalog/services", parse_services, params={"country_id": country_id}
        )

    def list_products(
        self, *, country_id: str = "", service_id: str = "", operator_id: str = ""
    ) -> list[Product]:
        """Return every listed (active, in-stock) product, cheapest first.

        Pages through /catalog/products 10000 at a time: one request for any
        realistic catalog.
        """
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
            if not rows or len(rows) < page_limit:
                break
        return sorted(products, key=lambda p: p.price)

    def _parse_product_page(self, response: Response) -> tuple[list[Product], int]:
        data, meta = unwrap(response)
        expect(isinstance(data, list), "product list")
        limit = to_int_or_none(meta.get("limit")) or PRODUCT_PAGE_LIMIT
        rows = [self._parse_product(item) for item in data]
        return [row for row in rows if row is not None], limit

    def _parse_product(self, item: Any) -> Product | None:
        expect(isinstance(item, dict), "product")
        if item.get("active") is False:
            return None
        stock = to_int_or_none(item.get("available"))
        if stock is None:
            stock = to_int_or_none(item.get("available_count"))  # the guide's name
        return Product(
            id=wire_text(item.get("id"), "product id"),
            name=plain_text(item.get("name")),
            country_id=plain_text(item.get("country_id")),
            platform_id=plain_text(item.get("platform_id")),
            price=self._money(item.get("price"), what="price"),
            currency=self.money_currency,
            stock=stock,
            catalog_product_id=plain_text(item.get("catalog_product_id")),
            operator_id=plain_text(item.get("operator_id")),
            operator_name=plain_text(item.get("operator_name")),
        )

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Return one quote per product (tier), with its product_id and operator id."""
        products = self.list_products(country_id=country_id, service_id=service_id)
        return [product.quote() for product in products]

    def list_operators(self, country_id: str, platform_id: str) -> list[Operator]:
        """Return the operators to choose from ("any" first); [] when there is no choice.

        Raises InvalidRequest without both ids (the API requires them).
        """
        if not (country_id and platform_id):
            raise InvalidRequest("SMSCode lists operators for one country and platform.")
        params = {"country_id": country_id, "platform_id": platform_id}
        return self._request("GET", "/v1/catalog/operators", parse_operators, params=params)

    def get_exchange_rate(self) -> ExchangeRate:
        """Return the USD/IDR rate SMSCode converts with."""
        path = self._money_path("/catalog/exchange-rate")
        return self._request("GET", path, parse_exchange_rate, params={"pair": "USD/IDR"})

    # --- activations ---------------------------------------------------------------
    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Buy `request.quantity` numbers; return one Purchase per number issued.

        Sends `idempotency-key` (the request's, or a fresh one) so the
        Transport may repeat the call safely. Without a product id the
        cheapest listed product for the service and country is bought.
        Raises OutOfStock, PriceTooHigh, InsufficientBalance, Unsupported
        (pools, area codes, carriers, voice) and the rest of the taxonomy.
        """
        check_purchase_request(request)
        key = request.idempotency_key or uuid.uuid4().hex
        if not _KEY.fullmatch(key):
            raise InvalidRequest("An idempotency key is 1-128 letters, digits, '_' or '-'.")
        return self._request(
            "POST",
            self._money_path("/orders/create"),
            self._parse_purchases,
            json=self._create_body(request),
            headers={"idempotency-key": key},
            idempotent=True,  # the server applies a key at most once
        )

    def _create_body(self, request: PurchaseRequest) -> dict[str, Any]:
        """Exactly one of product_id / catalog_product_id, plus routing options where allowed."""
        body: dict[str, Any] = {"quantity": request.quantity}
        product = self._resolve_product(request)
        if product is None:
            return body | {"product_id": wire_id(request.product_id)}
        if product.catalog_product_id and not request.product_id:
            # The routed path: the server picks the best current offer and
            # honours the price guard, policy and operator itself.
            routed = {"catalog_product_id": wire_id(product.catalog_product_id)}
            return body | routed | self._routing(request)
        # An exact tier takes no routing options, so guard the price here.
        if request.max_price is not None and product.price > request.max_price:
            raise PriceTooHigh(
                f"The number costs {product.price} {product.currency}, "
                f"above the maximum of {request.max_price}."
            )
        return body | {"product_id": wire_id(product.id)}

    def _resolve_product(self, request: PurchaseRequest) -> Product | None:
        """The product to buy, looked up when needed; None to buy request.product_id blind."""
        if request.product_id and request.max_price is None:
            return None
        products = self.list_products(
            country_id=request.country_id,
            service_id=request.service_id,
            operator_id="" if request.product_id else request.operator,
        )
        if request.product_id:
            products = [p for p in products if p.id == request.product_id]
        in_stock = [p for p in products if p.stock is None or p.stock > 0]
        if not in_stock:
            raise OutOfStock("SMSCode lists no number in stock for this service and country.")
        return in_stock[0]  # list_products sorts cheapest first

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

    def _parse_purchases(self, data: Any) -> list[Purchase]:
        """{orders: [...], failed_count} or the guide's flat order → the numbers issued."""
        expect(isinstance(data, dict), "order result")
        items = data.get("orders") if "orders" in data else [data]
        expect(isinstance(items, list), "order list")
        if not items:
            failed = to_int_or_none(data.get("failed_count")) or 0
            raise OutOfStock(f"SMSCode issued no number ({failed} failed).")
        return [self._parse_purchase(item) for item in items]

    def _parse_purchase(self, item: Any) -> Purchase:
        expect(isinstance(item, dict), "order")
        raw_status = plain_text(item.get("status"))
        amount = item.get("amount")
        return Purchase(
            order_id=order_id_of(item),
            phone_number=phone_text(item.get("phone_number")),
            cost=None if amount is None else self._money(amount, what="amount"),
            currency=self.money_currency,
            expires_at=from_iso(item.get("expires_at")),
            status=ORDER_STATUSES.get(raw_status.lower(), OrderStatus.WAITING),
            raw_status=raw_status,
            cancel_available_at=from_iso(item.get("cancel_available_at")),
        )

    def get_order(self, order_id: str) -> OrderState:
        """Return one order (always /v1: no FX needed to poll); NotFound when unknown."""
        return self._request(
            "GET",
            f"/v1/orders/{path_id(order_id)}",
            lambda data: parse_order(data, usd=False, order_id=order_id),
        )

    def list_active_orders(self) -> list[OrderState]:
        """Return every ACTIVE and OTP_RECEIVED order with its code, in one request.

        The active view carries no phone number and no amount.
        """
        return self._request("GET", "/v1/orders/active", parse_orders)

    def list_orders(self, limit: int = 20, offset: int = 0, status: str = "") -> list[OrderState]:
        """Return orders newest first (limit 1-100), optionally only those in `status`."""
        params = {"limit": limit, "offset": offset, "status": status}
        return self._request(
            "GET",
            self._money_path("/orders"),
            lambda data: parse_orders(data, usd=self.usd),
            params=params,
        )

    def cancel(self, order_id: str) -> CancelResult:
        """Cancel an order before any SMS arrives; return the refund.

        Raises CancelTooEarly with retry_after taken from the order's
        cancel_available_at (one extra read), InvalidRequest once an SMS has
        arrived. Never retried: a cancel has no idempotency key.
        """
        try:
            return self._request(
                "POST",
                self._money_path("/orders/cancel"),
                lambda data: self._parse_cancel(data, order_id),
                json={"id": wire_id(order_id)},
                idempotent=False,
            )
        except CancelTooEarly as exc:
            if exc.retry_after is None:
                exc.retry_after = self._seconds_until_cancel(order_id)
            raise

    def _parse_cancel(self, data: Any, order_id: str) -> CancelResult:
        expect(isinstance(data, dict), "cancel result")
        refund = data.get("refund_amount")
        raw_status = plain_text(data.get("status"))
        return CancelResult(
            order_id=plain_text(data.get("order_id")) or order_id,
            refunded=None if refund is None else self._money(refund, what="refund"),
            currency=self.money_currency,
            status=ORDER_STATUSES.get(raw_status.lower(), OrderStatus.CANCELLED),
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
        """Mark an order whose SMS arrived as done; InvalidRequest when it cannot be finished."""
        self._request(
            "POST",
            "/v1/orders/finish",
            lambda data: expect(isinstance(data, dict), "finish result"),
            json={"id": wire_id(order_id)},
            idempotent=False,
        )

    def resend(self, order_id: str) -> ResendResult:
        """Ask for another SMS on the same order; return that (same) order id.

        Raises InvalidRequest when SMSCode refuses (no SMS yet, cooldown, final).
        """
        return self._request(
            "POST",
            "/v1/orders/resend",
            lambda data: parse_resend(data, order_id),
            json={"id": wire_id(order_id)},
            idempotent=False,
        )

    def reactivate(
        self, order_id: str, *, max_price: Decimal | None = None, idempotency_key: str = ""
    ) -> Purchase:
        """Rent the same number again as a new child order (new id); return it.

        Raises InvalidRequest when the order cannot be reactivated, PriceTooHigh
        when the cost is above `max_price`.
        """
        key = idempotency_key or uuid.uuid4().hex
        body: dict[str, Any] = {"id": wire_id(order_id)}
        if max_price is not None:
            body["max_price"] = self._wire_money(max_price)
        return self._request(
            "POST",
            self._money_path("/orders/reactivate"),
            lambda data: self._parse_purchases(data)[0],
            context="reactivate",
            json=body,
            headers={"idempotency-key": key},
            idempotent=True,
        )

    def reactivate_options(self, order_id: str) -> ReactivationCost:
        """Return what reactivating would cost (no charge); InvalidRequest if it cannot."""
        return self._request(
            "GET",
            self._money_path(f"/orders/{path_id(order_id)}/reactivate-options"),
            lambda data: self._parse_reactivation_cost(data, order_id),
        )

    def _parse_reactivation_cost(self, data: Any, order_id: str) -> ReactivationCost:
        expect(isinstance(data, dict), "reactivation options")
        cost = self._money(data.get("cost"), what="cost")
        return ReactivationCost(order_id=order_id, cost=cost, currency=self.money_currency)

    def _money(self, value: Any, *, what: str) -> Decimal:
        return money(value, usd=self.usd, what=what)


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
    if not enveloped:
        raise bare_error(response)
    raise envelope_error(response, body, context)


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


def wire_id(value: str) -> int | str:
    """An id as the API takes it: an int ("12345" → 12345), or the guide's string as is."""
    text = str(value).strip()
    if not text:
        raise InvalidRequest("An id is required.")
    return int(text) if text.isdigit() else text


def path_id(value: str) -> str:
    return quote(str(wire_id(value)), safe="")


# --- response helpers ---------------------------------------------------------------------


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


def parse_countries(data: Any) -> list[Country]:
    return [
        Country(
            id=wire_text(row.get("id"), "country id"),
            name=plain_text(row.get("name")) or plain_text(row.get("id")),
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
