"""SmsCodeClient against smscode-wire-facts.md (the live API) and the older guide.

The examples below follow the wire facts field for field: int ids, upper-case
statuses, every capability field on order views, /v1 IDR integers, /v2 money
objects with `meta.fx`. The guide's shapes (flat create result, lower-case
statuses, `cancelled`, string ids, `available_count`, its error codes) are
served too. Every request goes through the real Transport (no budget, a fake
sleep).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.clients.smscode import (
    ExchangeRate,
    Operator,
    Product,
    ReactivationCost,
    SmsCodeClient,
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
from providers.http import Transport
from providers.types import (
    ActivationType,
    Balance,
    CancelResult,
    Capability,
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

BASE = "https://smscode.test"
KEY = "smsc_tok_Sup3rSecret987"


def ok(data: Any, **meta: Any) -> dict:
    body = {"success": True, "data": data}
    return body | ({"meta": meta} if meta else {})


def fail(code: str | None, message: str = "", **details: Any) -> dict:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["code"] = code
    if details:
        error["details"] = details
    return {"success": False, "error": error}


def usd(amount: str, canonical: int) -> dict:
    return {
        "amount": amount,
        "currency": "USD",
        "canonical_amount": canonical,
        "canonical_currency": "IDR",
    }


FX = {"fx": {"pair": "USD/IDR", "rate": 16000, "rate_as_of": "2026-06-13T09:59:00Z"}}

CAPS = {
    "can_finish": False,
    "can_resend": False,
    "can_cancel": False,
    "can_replace": False,
    "can_reactivate": False,
    "resend_available_at": None,
    "cancel_available_at": "2026-06-13T10:02:00Z",
    "replace_available_at": "2026-06-13T10:02:00Z",
}
ORDER_ACTIVE = {
    "id": 12345,
    "status": "ACTIVE",
    "created_at": "2026-06-13T10:00:00+00:00",
    "product_id": 501,
    "catalog_product_id": 77,
    "operator_id": None,
    "operator_name": None,
    "phone_number": "+6281234567890",
    "amount": 3500,
    "otp_code": None,
    "otp_message": None,
    "sms_revision": 0,
    "otp_received_at": None,
    "expires_at": "2026-06-13T10:20:00Z",
    "canceled_at": None,
    "failed_reason": None,
    **CAPS,
}
ORDER_RECEIVED = ORDER_ACTIVE | {
    "id": 12346,
    "status": "OTP_RECEIVED",
    "otp_code": "123456",
    "otp_message": "Your WhatsApp code is 123-456",
    "sms_revision": 2,
    "otp_received_at": "2026-06-13T10:03:00Z",
    "can_finish": True,
    "can_resend": True,
    "cancel_available_at": None,
    "replace_available_at": None,
}
ACTIVE_VIEW = [
    {
        k: ORDER_RECEIVED[k]
        for k in [
            "id",
            "status",
            "otp_code",
            "otp_message",
            "sms_revision",
            "otp_received_at",
            "expires_at",
            "failed_reason",
            "operator_id",
            "operator_name",
        ]
    }
    | CAPS
]
CREATED = {
    k: ORDER_ACTIVE[k]
    for k in [
        "id",
        "status",
        "phone_number",
        "otp_code",
        "otp_received_at",
        "expires_at",
        "failed_reason",
        "product_id",
        "catalog_product_id",
        "operator_id",
        "operator_name",
        "amount",
    ]
} | CAPS
CANCEL_V1 = {"order_id": 12345, "status": "CANCELED", "refund_amount": 3500, "new_balance": 153500}
CANCEL_V2 = {
    "order_id": 12345,
    "status": "CANCELED",
    "refund_amount": usd("46.8750", 750000),  # 4 places for amounts...
    "new_balance": usd("78.13", 1250000),  # ...2 for balances, on purpose
}
PRODUCTS_V1 = [
    {
        "id": 501,
        "name": "WhatsApp - Indonesia",
        "country_id": 6,
        "platform_id": 1,
        "available": 1200,
        "price": 3500,
        "active": True,
        "catalog_product_id": 77,
        "operator_id": None,
        "operator_name": None,
    },
    {
        "id": 503,
        "name": None,
        "country_id": 6,
        "platform_id": 1,
        "available": 40,
        "price": 4200,
        "active": True,
        "catalog_product_id": None,
        "operator_id": 12,
        "operator_name": "Telkomsel",
    },
]
PRODUCTS_V2 = [
    p | {"price": usd("0.2188" if p["id"] == 501 else "0.2625", p["price"])} for p in PRODUCTS_V1
]
COUNTRIES = [
    {"id": 6, "code": "id", "name": "Indonesia", "dial_code": "62", "emoji": "🇮🇩", "active": True},
    {"id": 99, "code": None, "name": "Kosovo", "dial_code": None, "emoji": None, "active": True},
    {"id": 7, "code": "zz", "name": "Closed", "dial_code": "999", "emoji": None, "active": False},
]
SERVICES = [{"id": 1, "code": "whatsapp", "name": "WhatsApp", "active": True}]
OPERATORS = [
    {"operator_id": None, "code": "any", "name": None, "local_name": None},
    {"operator_id": 12, "code": "telkomsel", "name": "Telkomsel", "local_name": "Telkomsel"},
]

# The guide (smscode-api-integration-guide.txt).
GUIDE_BALANCE = {"success": True, "data": {"currency": "IDR", "balance": 150000}}
GUIDE_CREATED = {
    "order_id": "order-123",
    "phone_number": "+6281234567890",
    "status": "pending",
    "expires_at": "2026-06-13T10:20:00Z",
}
GUIDE_PRODUCTS = [
    {"id": 9, "country_id": 6, "platform_id": 1, "price": 3000, "available_count": 15}
]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


ROUTES: dict[str, Any] = {
    "GET /v1/balance": GUIDE_BALANCE,
    "GET /v2/balance": ok({"balance": usd("9.38", 150000)}, **FX),
    "GET /v1/catalog/countries": ok(COUNTRIES),
    "GET /v1/catalog/services": ok(SERVICES),
    "GET /v1/catalog/products": ok(PRODUCTS_V1, page=1, limit=10000, count=2),
    "GET /v2/catalog/products": ok(PRODUCTS_V2, page=1, limit=10000, count=2, **FX),
    "GET /v1/catalog/operators": ok(OPERATORS),
    "GET /v1/catalog/exchange-rate": ok(
        {"pair": "USD/IDR", "base_currency": "USD", "quote_currency": "IDR", "rate": 16000}
    ),
    "GET /v2/catalog/exchange-rate": ok(
        {"pair": "USD/IDR", "rate": "17970", "rate_as_of": "2026-06-13T09:59:00Z", "source": "x"}
    ),
    "POST /v1/orders/create": ok({"orders": [CREATED], "failed_count": 0}),
    "POST /v2/orders/create": ok(
        {"orders": [CREATED | {"amount": usd("0.2188", 3500)}], "failed_count": 0}, **FX
    ),
    "GET /v1/orders/12345": {"success": True, "status": 200, "data": ORDER_ACTIVE},
    "GET /v1/orders/12346": ok(ORDER_RECEIVED),
    "GET /v1/orders/active": ok(ACTIVE_VIEW),
    "GET /v1/orders": ok([ORDER_RECEIVED, ORDER_ACTIVE]),
    "GET /v2/orders": ok([ORDER_ACTIVE | {"amount": usd("0.2188", 3500)}], **FX),
    "POST /v1/orders/cancel": ok(CANCEL_V1),
    "POST /v2/orders/cancel": ok(CANCEL_V2, **FX),
    "POST /v1/orders/finish": ok({"order_id": 12346, "status": "COMPLETED"}),
    "POST /v1/orders/resend": ok({"order_id": 12346, "status": "ACTIVE", "resent": True}),
    "POST /v1/orders/reactivate": ok({"orders": [CREATED | {"id": 12399}], "failed_count": 0}),
    "POST /v2/orders/reactivate": ok(
        {"orders": [CREATED | {"id": 12399, "amount": usd("0.2188", 3500)}], "failed_count": 0},
        **FX,
    ),
    "GET /v1/orders/12345/reactivate-options": ok({"cost": 3500}),
    "GET /v2/orders/12345/reactivate-options": ok({"cost": usd("0.0077", 139)}, **FX),
}


class FakeSmsCode:
    """Serves replies by "METHOD /path" (query ignored); a tuple is served in order."""

    def __init__(self, rsps: responses.RequestsMock, routes: dict[str, Any]):
        self.routes = {k: list(v) if isinstance(v, tuple) else v for k, v in routes.items()}
        self.seen: list[str] = []
        for method in ("GET", "POST", "DELETE"):
            rsps.add_callback(method, re.compile(re.escape(BASE) + r"/.*"), callback=self.reply)

    def reply(self, request) -> tuple[int, dict, str]:
        key = f"{request.method} {urlsplit(request.url).path}"
        self.seen.append(key)
        reply = self.routes.get(key)
        if isinstance(reply, list) and reply and isinstance(reply[0], Reply):
            reply = reply.pop(0) if len(reply) > 1 else reply[0]
        if reply is None:
            reply = Reply(404, fail("NOT_FOUND", "no such route"))
        if not isinstance(reply, Reply):
            reply = Reply(200, reply)
        text = reply.text if reply.text is not None else json.dumps(reply.body)
        return reply.status, reply.headers, text


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_client(
    sleeps: list[float] | None = None,
    currency: str = "",
    base_url: str = BASE,
    facts: dict | None = None,
    on_learn=None,
) -> SmsCodeClient:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    transport = Transport(label="smscode", secrets=(KEY,), budget=None, sleep=sleep)
    return SmsCodeClient(
        base_url=base_url,
        api_key=KEY,
        transport=transport,
        currency=currency,
        facts=facts,
        on_learn=on_learn,
    )


@pytest.fixture
def client(sleeps) -> SmsCodeClient:
    return make_client(sleeps)


@pytest.fixture
def usd_client(sleeps) -> SmsCodeClient:
    return make_client(sleeps, currency="USD")


@pytest.fixture
def api(rsps) -> FakeSmsCode:
    return FakeSmsCode(rsps, ROUTES)


def serve(rsps, **overrides: Any) -> FakeSmsCode:
    return FakeSmsCode(rsps, ROUTES | overrides)


def sent(rsps, index: int = -1) -> dict:
    return json.loads(rsps.calls[index].request.body)


def query(rsps, index: int = -1) -> dict[str, list[str]]:
    return parse_qs(urlsplit(rsps.calls[index].request.url).query)


def wa_request(**changes: Any) -> PurchaseRequest:
    return PurchaseRequest(service_id="1", country_id="6", **changes)


# --- transport basics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "configured", [BASE, BASE + "/", BASE + "/v1", BASE + "/v1/", BASE + "/v2"]
)
def test_it_normalises_the_base_url(configured):
    assert make_client(base_url=configured).base_url == BASE


def test_it_defaults_to_the_public_api_in_idr():
    client = SmsCodeClient(api_key=KEY)
    assert client.base_url == "https://api.smscode.gg"
    assert client.currency == "IDR"
    assert client.rate_limit == (300, 60.0)


def test_it_sends_bearer_auth_and_json_headers_on_every_request(api, client, rsps):
    client.get_balance()
    client.cancel("12345")
    for call in rsps.calls:
        assert call.request.headers["Authorization"] == f"Bearer {KEY}"
        assert call.request.headers["Accept"] == "application/json"
        assert call.request.headers["Content-Type"] == "application/json"


def test_it_declares_its_capabilities():
    assert SmsCodeClient.capabilities == {
        Capability.BULK_ACTIVE,
        Capability.RESEND,
        Capability.FINISH,
        Capability.MAX_PRICE,
        Capability.PRICING_OPTION,
        Capability.QUANTITY,
        Capability.OPERATOR,
        Capability.IDEMPOTENT_PURCHASE,
    }


# --- account and catalog ----------------------------------------------------------------------


def test_it_reads_the_guides_idr_balance(api, client):
    assert client.get_balance() == Balance(Decimal("150000"), "IDR")
    assert api.seen == ["GET /v1/balance"]


def test_it_reads_a_usd_balance_from_v2(api, usd_client):
    assert usd_client.get_balance() == Balance(Decimal("9.38"), "USD")
    assert api.seen == ["GET /v2/balance"]


def test_it_reads_v2_money_without_the_fx_meta(rsps, usd_client):
    # The SDK insists on meta.fx; the money object alone is self-describing, so
    # a missing receipt is no reason to fail a balance check.
    serve(rsps, **{"GET /v2/balance": ok({"balance": usd("9.38", 150000)})})
    assert usd_client.get_balance() == Balance(Decimal("9.38"), "USD")


def test_it_lists_active_countries_with_upper_case_iso(api, client):
    assert client.list_countries() == [
        Country(id="6", name="Indonesia", iso="ID", dial_code="62"),
        Country(id="99", name="Kosovo"),
    ]


def test_it_lists_services_by_country(api, client, rsps):
    assert client.list_services(country_id="6") == [
        Service(id="1", name="WhatsApp", code="whatsapp")
    ]
    assert query(rsps) == {"country_id": ["6"]}


def test_it_lists_products_cheapest_first(api, client, rsps):
    assert client.list_products(country_id="6", service_id="1") == [
        Product(
            id="501",
            name="WhatsApp - Indonesia",
            country_id="6",
            platform_id="1",
            price=Decimal("3500"),
            currency="IDR",
            stock=1200,
            catalog_product_id="77",
        ),
        Product(
            id="503",
            name="",
            country_id="6",
            platform_id="1",
            price=Decimal("4200"),
            currency="IDR",
            stock=40,
            operator_id="12",
            operator_name="Telkomsel",
        ),
    ]
    assert query(rsps) == {
        "country_id": ["6"],
        "platform_id": ["1"],
        "limit": ["10000"],
        "sort": ["price_asc"],
        "page": ["1"],
    }


def test_it_pages_through_products(rsps, client):
    page = [PRODUCTS_V1[0] | {"id": 600 + i} for i in range(2)]
    api = serve(
        rsps,
        **{
            "GET /v1/catalog/products": (
                Reply(200, ok(page, page=1, limit=2, count=3)),  # the server capped the limit
                Reply(200, ok(PRODUCTS_V1[1:], page=2, limit=2, count=3)),
            )
        },
    )
    assert [p.id for p in client.list_products()] == ["600", "601", "503"]
    assert [query(rsps, i)["page"] for i in range(2)] == [["1"], ["2"]]
    assert len(api.seen) == 2


def test_it_reads_the_guides_available_count(rsps, client):
    serve(rsps, **{"GET /v1/catalog/products": ok(GUIDE_PRODUCTS)})
    assert client.get_quotes(service_id="1", country_id="6") == [
        Quote(
            service_id="1",
            country_id="6",
            price=Decimal("3000"),
            currency="IDR",
            stock=15,
            product_id="9",
        )
    ]


def test_it_quotes_products_with_operator(api, client):
    quotes = client.get_quotes()
    assert [(q.product_id, q.operator, q.price) for q in quotes] == [
        ("501", "", Decimal("3500")),
        ("503", "12", Decimal("4200")),
    ]


def test_it_quotes_usd_prices_from_v2(api, usd_client):
    quotes = usd_client.get_quotes()
    assert [(q.price, q.currency) for q in quotes] == [
        (Decimal("0.2188"), "USD"),
        (Decimal("0.2625"), "USD"),
    ]
    assert api.seen == ["GET /v2/catalog/products"]


def test_it_fetches_the_catalog_in_three_requests(api, client):
    catalog = client.fetch_catalog()
    assert [c.id for c in catalog.countries] == ["6", "99"]
    assert [s.code for s in catalog.services] == ["whatsapp"]
    assert [q.product_id for q in catalog.quotes] == ["501", "503"]
    assert len(api.seen) == 3


def test_it_lists_operators(api, client, rsps):
    assert client.list_operators("6", "1") == [
        Operator(id="", code="any"),
        Operator(id="12", code="telkomsel", name="Telkomsel", local_name="Telkomsel"),
    ]
    assert query(rsps) == {"country_id": ["6"], "platform_id": ["1"]}


def test_it_needs_both_ids_for_operators(api, client):
    with pytest.raises(InvalidRequest):
        client.list_operators("6", "")
    assert api.seen == []


def test_it_reads_the_exchange_rate_from_v1_and_the_v2_fx_object(api, client, usd_client):
    assert client.get_exchange_rate() == ExchangeRate("USD/IDR", Decimal("16000"))
    assert usd_client.get_exchange_rate() == ExchangeRate(
        "USD/IDR", Decimal("17970"), datetime(2026, 6, 13, 9, 59, tzinfo=UTC)
    )


# --- purchase ---------------------------------------------------------------------------------


def test_it_buys_the_cheapest_product_on_the_routed_path(api, client, rsps):
    purchases = client.purchase(
        wa_request(max_price=Decimal("4000.9"), pricing_option=PricingOption.BEST_SUCCESS)
    )
    assert purchases == [
        Purchase(
            order_id="12345",
            phone_number="6281234567890",
            cost=Decimal("3500"),
            currency="IDR",
            expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
            status=OrderStatus.WAITING,
            raw_status="ACTIVE",
            cancel_available_at=datetime(2026, 6, 13, 10, 2, tzinfo=UTC),
        )
    ]
    assert api.seen == ["GET /v1/catalog/products", "POST /v1/orders/create"]
    assert sent(rsps) == {
        "quantity": 1,
        "catalog_product_id": 77,
        "max_price": 4000,  # whole rupiah, floored like the server does
        "policy": "best_success",
    }


def test_it_sends_one_idempotency_key_and_marks_the_call_idempotent(api, client, rsps):
    client.purchase(wa_request(product_id="501", idempotency_key="order-abc_1"))
    assert rsps.calls[-1].request.headers["idempotency-key"] == "order-abc_1"
    assert sent(rsps) == {"quantity": 1, "product_id": 501}
    assert api.seen == ["POST /v1/orders/create"]  # a named product needs no look-up


def test_it_mints_a_key_when_the_request_has_none(api, client, rsps):
    client.purchase(wa_request(product_id="501"))
    assert re.fullmatch(r"[0-9a-f]{32}", rsps.calls[-1].request.headers["idempotency-key"])


def test_it_rejects_a_malformed_idempotency_key(api, client):
    with pytest.raises(InvalidRequest):
        client.purchase(wa_request(product_id="501", idempotency_key="no spaces!"))
    assert api.seen == []


def test_it_sends_operator_and_quantity(api, client, rsps):
    purchases = client.purchase(wa_request(operator="12", quantity=3))
    assert query(rsps, 0)["operator_id"] == ["12"]
    assert sent(rsps) == {"quantity": 3, "catalog_product_id": 77, "operator_id": 12}
    assert len(purchases) == 1  # what the server issued, not what was asked


def test_it_guards_the_price_of_an_exact_tier_itself(rsps, client):
    api = serve(rsps, **{"GET /v1/catalog/products": ok(PRODUCTS_V1[1:])})
    with pytest.raises(PriceTooHigh):
        client.purchase(wa_request(max_price=Decimal("4000")))
    assert api.seen == ["GET /v1/catalog/products"]


def test_it_checks_a_named_products_price_against_max_price(api, client):
    with pytest.raises(PriceTooHigh):
        client.purchase(wa_request(product_id="503", max_price=Decimal("4000")))
    assert "POST /v1/orders/create" not in api.seen


def test_it_buys_an_exact_tier_under_max_price_without_routing_options(api, client, rsps):
    client.purchase(wa_request(product_id="503", max_price=Decimal("5000")))
    assert sent(rsps) == {"quantity": 1, "product_id": 503}


def test_it_says_out_of_stock_when_nothing_is_listed(rsps, client):
    api = serve(rsps, **{"GET /v1/catalog/products": ok([], page=1, limit=10000, count=0)})
    with pytest.raises(OutOfStock):
        client.purchase(wa_request())
    assert api.seen == ["GET /v1/catalog/products"]


def test_it_buys_in_usd_with_a_usd_max_price_string(api, usd_client, rsps):
    [purchase] = usd_client.purchase(wa_request(max_price=Decimal("0.50")))
    assert sent(rsps)["max_price"] == "0.50"
    assert (purchase.cost, purchase.currency) == (Decimal("0.2188"), "USD")
    assert api.seen == ["GET /v2/catalog/products", "POST /v2/orders/create"]


def test_it_accepts_the_guides_flat_create_result(rsps, client):
    serve(rsps, **{"POST /v1/orders/create": ok(GUIDE_CREATED)})
    assert client.purchase(wa_request(product_id="9")) == [
        Purchase(
            order_id="order-123",
            phone_number="6281234567890",
            cost=None,
            currency="IDR",
            expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
            status=OrderStatus.WAITING,
            raw_status="pending",
        )
    ]


def test_it_returns_every_order_of_a_partial_success(rsps, client):
    orders = [CREATED, CREATED | {"id": 12350, "phone_number": "+6281111111111"}]
    serve(rsps, **{"POST /v1/orders/create": ok({"orders": orders, "failed_count": 1})})
    purchases = client.purchase(wa_request(product_id="501", quantity=3))
    assert [p.order_id for p in purchases] == ["12345", "12350"]


def test_it_says_out_of_stock_when_every_number_failed(rsps, client):
    serve(rsps, **{"POST /v1/orders/create": ok({"orders": [], "failed_count": 2})})
    with pytest.raises(OutOfStock):
        client.purchase(wa_request(product_id="501", quantity=2))


@pytest.mark.parametrize(
    "changes",
    [
        {"pool": "alpha"},
        {"area_codes": ("21",)},
        {"carrier": "telkomsel"},
        {"activation_type": ActivationType.VOICE},
    ],
)
def test_it_refuses_options_smscode_lacks(api, client, changes):
    with pytest.raises(Unsupported):
        client.purchase(wa_request(product_id="501", **changes))
    assert api.seen == []


@pytest.mark.parametrize("quantity", [0, 101])
def test_it_refuses_quantities_outside_1_to_100(api, client, quantity):
    with pytest.raises(InvalidRequest):
        client.purchase(wa_request(product_id="501", quantity=quantity))


# --- orders -----------------------------------------------------------------------------------


def test_it_polls_an_order_on_v1_with_its_capability_fields(api, usd_client):
    assert usd_client.get_order("12345") == OrderState(
        order_id="12345",
        status=OrderStatus.WAITING,
        raw_status="ACTIVE",
        phone_number="6281234567890",
        expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
        cost=Decimal("3500"),
        currency="IDR",  # polling stays on /v1 even for a USD account: no FX there
        sms_revision=0,
        cancel_available_at=datetime(2026, 6, 13, 10, 2, tzinfo=UTC),
        can_resend=False,
    )
    assert api.seen == ["GET /v1/orders/12345"]


def test_it_reads_a_received_code(api, client):
    order = client.get_order("12346")
    assert (order.status, order.code, order.full_text) == (
        OrderStatus.RECEIVED,
        "123456",
        "Your WhatsApp code is 123-456",
    )
    assert (order.sms_revision, order.can_resend, order.cancel_available_at) == (2, True, None)


@pytest.mark.parametrize(
    ("status", "otp_code", "otp_message", "expected"),
    [
        ("ACTIVE", None, None, OrderStatus.WAITING),
        ("OTP_RECEIVED", None, "Tap https://example.com/login", OrderStatus.RECEIVED),
        ("OTP_RECEIVED", "123456", "code 123456", OrderStatus.RECEIVED),
        ("COMPLETED", "123456", "code 123456", OrderStatus.COMPLETED),
        ("CANCELED", None, None, OrderStatus.CANCELLED),
        ("EXPIRED", None, None, OrderStatus.EXPIRED),
        ("ACTIVE", "654321", None, OrderStatus.RECEIVED),  # after a resend
        ("ACTIVE", None, "a login link", OrderStatus.RECEIVED),
        # the guide's spellings
        ("pending", None, None, OrderStatus.WAITING),
        ("active", None, None, OrderStatus.WAITING),
        ("completed", "847291", None, OrderStatus.COMPLETED),
        ("expired", None, None, OrderStatus.EXPIRED),
        ("cancelled", None, None, OrderStatus.CANCELLED),
        ("Otp_Received", "1", None, OrderStatus.RECEIVED),
        ("REFUND_PENDING", None, None, OrderStatus.UNKNOWN),
        ("REFUND_PENDING", "1", None, OrderStatus.RECEIVED),
    ],
)
def test_it_maps_statuses_case_insensitively(rsps, client, status, otp_code, otp_message, expected):
    body = ORDER_ACTIVE | {"status": status, "otp_code": otp_code, "otp_message": otp_message}
    serve(rsps, **{"GET /v1/orders/12345": ok(body)})
    assert client.get_order("12345").status == expected


def test_it_polls_the_guides_string_id_and_idless_bodies(rsps, client):
    api = serve(
        rsps,
        **{
            "GET /v1/orders/order-123": (
                Reply(200, {"success": True, "data": {"status": "pending", "otp_code": None}}),
                Reply(
                    200, {"success": True, "data": {"status": "completed", "otp_code": "847291"}}
                ),
            )
        },
    )
    first, second = client.get_order("order-123"), client.get_order("order-123")
    assert (first.order_id, first.status) == ("order-123", OrderStatus.WAITING)
    assert (second.status, second.code) == (OrderStatus.COMPLETED, "847291")
    assert api.seen == ["GET /v1/orders/order-123"] * 2


def test_it_lists_active_orders_in_one_request(api, usd_client):
    assert usd_client.list_active_orders() == [
        OrderState(
            order_id="12346",
            status=OrderStatus.RECEIVED,
            raw_status="OTP_RECEIVED",
            code="123456",
            full_text="Your WhatsApp code is 123-456",
            expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
            sms_revision=2,
            cancel_available_at=datetime(2026, 6, 13, 10, 2, tzinfo=UTC),
            can_resend=False,
        )
    ]
    assert api.seen == ["GET /v1/orders/active"]


def test_it_lists_orders_with_filters(api, client, rsps):
    orders = client.list_orders(limit=50, offset=10, status="otp_received")
    assert [o.order_id for o in orders] == ["12346", "12345"]
    assert query(rsps) == {"limit": ["50"], "offset": ["10"], "status": ["otp_received"]}


def test_it_lists_usd_orders_from_v2(api, usd_client):
    [order] = usd_client.list_orders()
    assert (order.cost, order.currency) == (Decimal("0.2188"), "USD")
    assert api.seen == ["GET /v2/orders"]


def test_it_cancels_with_an_int_id_and_reads_the_refund(api, client, rsps):
    assert client.cancel("12345") == CancelResult(
        order_id="12345", refunded=Decimal("3500"), currency="IDR"
    )
    assert sent(rsps) == {"id": 12345}


def test_it_reads_a_v2_refund_with_four_places(api, usd_client):
    result = usd_client.cancel("12345")
    assert (result.refunded, result.currency) == (Decimal("46.8750"), "USD")


def test_it_computes_the_cancel_wait_from_cancel_available_at(rsps, client):
    opens = datetime.now(UTC) + timedelta(seconds=40)
    order = ORDER_ACTIVE | {"cancel_available_at": opens.isoformat()}
    api = serve(
        rsps,
        **{
            "POST /v1/orders/cancel": Reply(409, fail("CANCEL_TOO_EARLY", "Too early")),
            "GET /v1/orders/12345": ok(order),
        },
    )
    with pytest.raises(CancelTooEarly) as caught:
        client.cancel("12345")
    assert 35 <= caught.value.retry_after <= 40
    assert api.seen == ["POST /v1/orders/cancel", "GET /v1/orders/12345"]


def test_it_falls_back_to_a_default_cancel_wait(rsps, client):
    serve(
        rsps,
        **{
            "POST /v1/orders/cancel": Reply(409, fail("CANCEL_TOO_EARLY", "Too early")),
            "GET /v1/orders/12345": Reply(404, fail("NOT_FOUND")),
        },
    )
    with pytest.raises(CancelTooEarly) as caught:
        client.cancel("12345")
    assert caught.value.retry_after == 60.0


def test_it_refuses_a_cancel_after_an_sms_as_a_conflict(rsps, client):
    serve(rsps, **{"POST /v1/orders/cancel": Reply(409, fail("CONFLICT", "SMS already received"))})
    with pytest.raises(InvalidRequest, match="SMS already received"):
        client.cancel("12345")


def test_it_finishes_and_resends(api, client, rsps):
    assert client.finish("12346") is None
    assert sent(rsps) == {"id": 12346}
    assert client.resend("12346") == ResendResult(order_id="12346")
    assert api.seen == ["POST /v1/orders/finish", "POST /v1/orders/resend"]


def test_it_reports_a_resend_that_did_not_happen(rsps, client):
    body = ok({"order_id": 12346, "status": "OTP_RECEIVED", "resent": False})
    serve(rsps, **{"POST /v1/orders/resend": body})
    with pytest.raises(InvalidRequest):
        client.resend("12346")


def test_it_reactivates_into_a_new_child_order(api, client, rsps):
    purchase = client.reactivate("12345", max_price=Decimal("5000"), idempotency_key="re-1")
    assert (purchase.order_id, purchase.phone_number) == ("12399", "6281234567890")
    assert sent(rsps) == {"id": 12345, "max_price": 5000}
    assert rsps.calls[-1].request.headers["idempotency-key"] == "re-1"


def test_it_reactivates_in_usd(api, usd_client, rsps):
    purchase = usd_client.reactivate("12345")
    assert sent(rsps) == {"id": 12345}  # max_price only when set
    assert (purchase.cost, purchase.currency) == (Decimal("0.2188"), "USD")


def test_it_reads_reactivation_costs(api, client, usd_client):
    assert client.reactivate_options("12345") == ReactivationCost("12345", Decimal("3500"), "IDR")
    assert usd_client.reactivate_options("12345") == ReactivationCost(
        "12345", Decimal("0.0077"), "USD"
    )


def test_it_maps_a_reactivation_above_max_price_to_price_too_high(rsps, client):
    refusal = fail("VALIDATION_ERROR", "Reactivation cost exceeds max_price")
    serve(rsps, **{"POST /v1/orders/reactivate": Reply(422, refusal)})
    with pytest.raises(PriceTooHigh):
        client.reactivate("12345", max_price=Decimal("100"))


def test_it_has_no_rentals(api, client):
    with pytest.raises(Unsupported):
        client.list_rental_offers()


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        (Reply(401, fail("UNAUTHORIZED", "Invalid token")), AuthFailed, "UNAUTHORIZED"),
        (Reply(403, fail("FORBIDDEN", "Not allowed")), AuthFailed, "FORBIDDEN"),
        (Reply(404, fail("NOT_FOUND", "No such order")), NotFound, "NOT_FOUND"),
        (
            Reply(404, fail("ORDER_NOT_FOUND", "Order ID doesn't exist")),
            NotFound,
            "ORDER_NOT_FOUND",
        ),
        (Reply(422, fail("VALIDATION_ERROR", "Bad")), InvalidRequest, "VALIDATION_ERROR"),
        (Reply(400, fail("INVALID_PARAMETERS", "Malformed")), InvalidRequest, "INVALID_PARAMETERS"),
        (Reply(422, fail("NO_OFFER_AVAILABLE", "Out of stock")), OutOfStock, "NO_OFFER_AVAILABLE"),
        (Reply(422, fail("PRODUCT_UNAVAILABLE", "No stock")), OutOfStock, "PRODUCT_UNAVAILABLE"),
        (
            Reply(422, fail("NO_OFFER_AVAILABLE", "No offer at or below max_price")),
            PriceTooHigh,
            "NO_OFFER_AVAILABLE",
        ),
        (
            Reply(422, fail("NO_OFFER_AVAILABLE", "No offer", max_price="0.10")),
            PriceTooHigh,
            "NO_OFFER_AVAILABLE",
        ),
        (
            Reply(409, fail("INSUFFICIENT_BALANCE", "Top up")),
            InsufficientBalance,
            "INSUFFICIENT_BALANCE",
        ),
        (Reply(409, fail("CONFLICT", "Wrong state")), InvalidRequest, "CONFLICT"),
        (
            Reply(422, fail("PROVIDER_ERROR", "Upstream said no")),
            UpstreamUnavailable,
            "PROVIDER_ERROR",
        ),
        (
            Reply(422, fail("IDEMPOTENCY_KEY_REUSED", "Different body")),
            InvalidRequest,
            "IDEMPOTENCY_KEY_REUSED",
        ),
        (Reply(413, text="Payload Too Large"), InvalidRequest, "PAYLOAD_TOO_LARGE"),
        # a success:false body on a 200 is a failure, decided by its code
        (
            Reply(200, fail("INSUFFICIENT_BALANCE", "Top up")),
            InsufficientBalance,
            "INSUFFICIENT_BALANCE",
        ),
        (
            Reply(200, fail("SERVICE_UNAVAILABLE", "Down")),
            UpstreamUnavailable,
            "SERVICE_UNAVAILABLE",
        ),
        (
            Reply(200, fail("FX_RATE_UNAVAILABLE", "No rate")),
            UpstreamUnavailable,
            "FX_RATE_UNAVAILABLE",
        ),
        (Reply(200, fail("INTERNAL_ERROR", "Oops")), UpstreamUnavailable, "INTERNAL_ERROR"),
        # a missing error.code falls back on the HTTP status
        (Reply(401, fail(None, "who?")), AuthFailed, "UNAUTHORIZED"),
        (Reply(404, fail(None, "gone")), NotFound, "NOT_FOUND"),
        (Reply(409, fail(None, "busy")), InvalidRequest, "CONFLICT"),
        (Reply(422, {"success": False, "error": {"code": ""}}), InvalidRequest, "VALIDATION_ERROR"),
        (Reply(200, {"success": False}), UpstreamUnavailable, "UNKNOWN_ERROR"),
        # unknown codes are kept and mapped by status
        (Reply(422, fail("BRAND_NEW_CODE", "?")), InvalidRequest, "BRAND_NEW_CODE"),
        (Reply(404, fail("BRAND_NEW_CODE", "?")), NotFound, "BRAND_NEW_CODE"),
        # a bare 404 is a wrong base URL, not an unknown order
        (Reply(404, text="<html>Not Found</html>"), UpstreamUnavailable, ""),
    ],
)
def test_it_maps_error_codes(rsps, client, reply, error, code):
    serve(rsps, **{"GET /v1/orders/12345": reply})
    with pytest.raises(error) as caught:
        client.get_order("12345")
    assert type(caught.value) is error
    assert caught.value.provider_code == code


def test_it_keeps_validation_details_as_field_errors(rsps, client):
    refusal = fail(
        "VALIDATION_ERROR", "Invalid", product_id="Send exactly one of product_id or catalog"
    )
    serve(rsps, **{"POST /v1/orders/create": Reply(422, refusal, headers={"X-Request-Id": "rq-9"})})
    with pytest.raises(InvalidRequest) as caught:
        client.purchase(wa_request(product_id="501"))
    assert caught.value.field_errors == {"product_id": "Send exactly one of product_id or catalog"}
    assert caught.value.details["request_id"] == "rq-9"


@pytest.mark.parametrize(
    ("details", "headers", "retry_after"),
    [
        ({"retry_after_seconds": 3600, "tier": 2, "until": "2099-01-01T00:00:00Z"}, {}, 3600.0),
        ({}, {"Retry-After": "3600"}, 3600.0),
    ],
)
def test_it_reports_an_abuse_ban_without_retrying(
    rsps, client, sleeps, details, headers, retry_after
):
    refusal = fail("TEMP_BANNED_ABUSE_GUARD", "Too many failures", **details)
    api = serve(rsps, **{"POST /v1/orders/create": Reply(429, refusal, headers=headers)})
    with pytest.raises(RateLimited) as caught:
        client.purchase(wa_request(product_id="501"))
    assert caught.value.retry_after == retry_after
    assert api.seen == ["POST /v1/orders/create"] and sleeps == []


# --- retries through the real Transport -------------------------------------------------------


def test_it_retries_a_create_after_a_503_with_the_same_key(rsps, client, sleeps):
    created = ROUTES["POST /v1/orders/create"]
    api = serve(rsps, **{"POST /v1/orders/create": (Reply(503, text=""), Reply(200, created))})
    [purchase] = client.purchase(wa_request(product_id="501"))
    assert purchase.order_id == "12345"
    keys = [call.request.headers["idempotency-key"] for call in rsps.calls]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(api.seen) == 2 and len(sleeps) == 1


def test_it_waits_out_a_request_in_progress_with_the_same_key(rsps, client, sleeps):
    busy = Reply(409, fail("REQUEST_IN_PROGRESS", "Still settling"))
    created = Reply(200, ROUTES["POST /v1/orders/create"])
    serve(rsps, **{"POST /v1/orders/create": (busy, created)})
    client.purchase(wa_request(product_id="501", idempotency_key="k-1"))
    assert [c.request.headers["idempotency-key"] for c in rsps.calls] == ["k-1", "k-1"]
    assert sleeps == [2.0]


def test_it_never_retries_a_cancel_after_a_503(rsps, client, sleeps):
    api = serve(rsps, **{"POST /v1/orders/cancel": Reply(503, text="")})
    with pytest.raises(UpstreamUnavailable):
        client.cancel("12345")
    assert api.seen == ["POST /v1/orders/cancel"] and sleeps == []


@pytest.mark.parametrize("method", ["finish", "resend"])
def test_it_never_retries_finish_or_resend(rsps, client, sleeps, method):
    api = serve(rsps, **{f"POST /v1/orders/{method}": Reply(503, text="")})
    with pytest.raises(UpstreamUnavailable):
        getattr(client, method)("12346")
    assert len(api.seen) == 1


def test_it_honours_retry_after_on_429(rsps, client, sleeps):
    throttled = Reply(429, fail("RATE_LIMIT_EXCEEDED", "Slow down"), headers={"Retry-After": "5"})
    api = serve(rsps, **{"GET /v1/balance": (throttled, Reply(200, GUIDE_BALANCE))})
    assert client.get_balance().amount == Decimal("150000")
    assert sleeps == [5.0]
    assert len(api.seen) == 2


def test_it_prefers_retry_after_seconds_from_details(rsps, client, sleeps):
    throttled = Reply(429, fail("RATE_LIMIT_EXCEEDED", "Daily cancel cap", retry_after_seconds=3))
    serve(rsps, **{"GET /v1/orders/active": (throttled, Reply(200, ok([])))})
    assert client.list_active_orders() == []
    assert sleeps == [3.0]


# --- malformed bodies never escape the taxonomy -----------------------------------------------

METHODS = {
    "get_balance": lambda c: c.get_balance(),
    "list_countries": lambda c: c.list_countries(),
    "list_services": lambda c: c.list_services(country_id="6"),
    "list_products": lambda c: c.list_products(),
    "get_quotes": lambda c: c.get_quotes(service_id="1", country_id="6"),
    "fetch_catalog": lambda c: c.fetch_catalog(),
    "list_operators": lambda c: c.list_operators("6", "1"),
    "get_exchange_rate": lambda c: c.get_exchange_rate(),
    "purchase_routed": lambda c: c.purchase(wa_request(max_price=Decimal("4000"))),
    "purchase_product": lambda c: c.purchase(wa_request(product_id="501")),
    "get_order": lambda c: c.get_order("12345"),
    "list_active_orders": lambda c: c.list_active_orders(),
    "list_orders": lambda c: c.list_orders(),
    "cancel": lambda c: c.cancel("12345"),
    "finish": lambda c: c.finish("12346"),
    "resend": lambda c: c.resend("12346"),
    "reactivate": lambda c: c.reactivate("12345", max_price=Decimal("5000")),
    "reactivate_options": lambda c: c.reactivate_options("12345"),
}
CURRENCIES = ["IDR", "USD"]

MALFORMED = {
    "html": Reply(200, text="<!doctype html><html><body>Cloudflare</body></html>"),
    "html_502_as_200": Reply(200, text="<html>502 Bad Gateway</html>"),
    "html_403": Reply(403, text="<html>Forbidden</html>"),
    "empty": Reply(200, text=""),
    "truncated": Reply(200, text='{"success": true, "data": {"id": 12345, "status": "ACT'),
    "null": Reply(200, None),
    "bare_list": Reply(200, [1, None, "x"]),
    "string": Reply(200, "ok"),
    "success_false_on_200": Reply(200, {"success": False, "data": {"id": 1}}),
    "success_as_string": Reply(200, {"success": "true", "data": {}}),
    "error_not_an_object": Reply(422, {"success": False, "error": "nope"}),
    "data_null": Reply(200, ok(None)),
    "data_list_of_junk": Reply(200, ok([None, 1, "a"])),
    "wrong_types": Reply(
        200,
        ok(
            {
                "id": True,
                "order_id": [1],
                "status": 7,
                "otp_code": {"x": 1},
                "otp_message": ["a"],
                "sms_revision": "lots",
                "phone_number": 6281234567890,
                "amount": "3500",
                "balance": "150000",
                "currency": 5,
                "orders": {"id": 1},
                "failed_count": "one",
                "refund_amount": False,
                "cost": None,
                "rate": "fast",
                "resent": "yes",
                "can_resend": "true",
                "cancel_available_at": 1718000000,
            }
        ),
    ),
    "float_money": Reply(
        200,
        ok(
            {
                "balance": {
                    "amount": 9.38,
                    "currency": "USD",
                    "canonical_amount": 150000,
                    "canonical_currency": "IDR",
                },
                "orders": [
                    CREATED
                    | {
                        "amount": {
                            "amount": 0.2188,
                            "currency": "USD",
                            "canonical_amount": 3500,
                            "canonical_currency": "IDR",
                        }
                    }
                ],
                "refund_amount": {
                    "amount": 46.875,
                    "currency": "USD",
                    "canonical_amount": 750000,
                    "canonical_currency": "IDR",
                },
                "cost": {
                    "amount": 0.0077,
                    "currency": "USD",
                    "canonical_amount": 139,
                    "canonical_currency": "IDR",
                },
            }
        ),
    ),
}


def within_taxonomy(call) -> None:
    """Run `call`: a result or a ProviderError is fine; anything else fails the test."""
    with contextlib.suppress(ProviderError):
        call()


def every_route(reply: Reply) -> dict[str, Reply]:
    return {key: reply for key in ROUTES}


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_it_turns_malformed_bodies_into_provider_errors(rsps, method, body, currency):
    FakeSmsCode(rsps, every_route(body))
    within_taxonomy(lambda: method(make_client(currency=currency)))


BAD_MONEY = {
    "float_amount": {"amount": 0.2188, "currency": "USD", "canonical_amount": 3500,
                     "canonical_currency": "IDR"},
    "int_amount": {"amount": 1, "currency": "USD", "canonical_amount": 3500,
                   "canonical_currency": "IDR"},
    "float_canonical": {"amount": "0.2188", "currency": "USD", "canonical_amount": 3500.0,
                        "canonical_currency": "IDR"},
    "bool_canonical": {"amount": "0.2188", "currency": "USD", "canonical_amount": True,
                       "canonical_currency": "IDR"},
    "wrong_currency": {"amount": "0.2188", "currency": "EUR", "canonical_amount": 3500,
                       "canonical_currency": "IDR"},
    "wrong_canonical_currency": {"amount": "0.2188", "currency": "USD",
                                 "canonical_amount": 3500, "canonical_currency": "USD"},
    "unreadable_amount": {"amount": "0,22", "currency": "USD", "canonical_amount": 3500,
                          "canonical_currency": "IDR"},
    "plain_number": 3500,
}  # fmt: skip

USD_MONEY_CALLS = {
    "balance": ("GET /v2/balance", lambda m: ok({"balance": m}, **FX), lambda c: c.get_balance()),
    "products": (
        "GET /v2/catalog/products",
        lambda m: ok([PRODUCTS_V1[0] | {"price": m}], page=1, limit=10000, count=1, **FX),
        lambda c: c.get_quotes(),
    ),
    "create": (
        "POST /v2/orders/create",
        lambda m: ok({"orders": [CREATED | {"amount": m}], "failed_count": 0}, **FX),
        lambda c: c.purchase(wa_request(product_id="501")),
    ),
    "orders": (
        "GET /v2/orders",
        lambda m: ok([ORDER_ACTIVE | {"amount": m}], **FX),
        lambda c: c.list_orders(),
    ),
    "cancel": (
        "POST /v2/orders/cancel",
        lambda m: ok(CANCEL_V2 | {"refund_amount": m}, **FX),
        lambda c: c.cancel("12345"),
    ),
    "reactivate_options": (
        "GET /v2/orders/12345/reactivate-options",
        lambda m: ok({"cost": m}, **FX),
        lambda c: c.reactivate_options("12345"),
    ),
}


@pytest.mark.parametrize("money", BAD_MONEY.values(), ids=BAD_MONEY.keys())
@pytest.mark.parametrize("case", USD_MONEY_CALLS.values(), ids=USD_MONEY_CALLS.keys())
def test_it_rejects_malformed_v2_money(rsps, case, money):
    route, body, call = case
    serve(rsps, **{route: body(money)})
    with pytest.raises(UpstreamUnavailable):
        call(make_client(currency="USD"))


def mutations(value: Any):
    """The body with one leaf at a time swapped for a wrong type, and with extra fields."""
    if isinstance(value, dict):
        yield value | {"unexpected": {"nested": [1, None]}, "status": 200}
        for key, child in value.items():
            for mutated in mutations(child):
                yield value | {key: mutated}
            yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        yield [*value, {"unexpected": True}]
        for index, child in enumerate(value[:2]):
            for mutated in mutations(child):
                yield [*value[:index], mutated, *value[index + 1 :]]
    else:
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield str(value)
        if isinstance(value, str):
            yield 123
        yield from (True, None, [], {}, 1.5, "NaN", "", -1)


def routes_used(method, currency: str) -> list[str]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeSmsCode(mock, ROUTES)
        method(make_client(currency=currency))
    return [route for route in ROUTES if route in api.seen]


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_it_survives_wrong_types_in_every_field(method, currency):
    for route in routes_used(method, currency):
        for mutated in mutations(ROUTES[route]):
            with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                FakeSmsCode(mock, ROUTES | {route: Reply(200, mutated)})
                within_taxonomy(lambda: method(make_client(currency=currency)))


FIELDS = st.sampled_from(
    ["success", "data", "error", "code", "message", "details", "meta", "id", "order_id",
     "status", "otp_code", "otp_message", "sms_revision", "phone_number", "amount", "balance",
     "currency", "canonical_amount", "canonical_currency", "orders", "failed_count",
     "refund_amount", "cost", "price", "available", "available_count", "rate", "resent",
     "limit", "retry_after_seconds", "cancel_available_at", "can_resend", "active"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=6),
    max_leaves=14,
)


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=JSON,
    status=st.sampled_from([200, 200, 201, 400, 401, 404, 409, 413, 422, 429]),
    currency=st.sampled_from(CURRENCIES),
)
def test_it_survives_arbitrary_json(method, body, status, currency):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeSmsCode(mock, every_route(Reply(status, text=json.dumps(body))))
        within_taxonomy(lambda: method(make_client(currency=currency)))


# --- the integration guide's dialect ----------------------------------------------------------
# Every example of smscode-api-integration-guide.txt, as the guide writes it, and a host that
# speaks only what the guide documents: no services list, no /v2, no active list, no finish.

# "Expected response" of the balance check, verbatim.
GUIDE_DOC_BALANCE = {"success": True, "data": {"currency": "IDR", "balance": 150000}}
# "The catalog response includes country_id, platform_id, price, and available_count for each
# product" (and the countries list gives the country_id values).
GUIDE_DOC_COUNTRIES = [{"country_id": 6, "name": "Indonesia"}, {"country_id": 22, "name": "India"}]
GUIDE_DOC_PRODUCTS = [
    {"country_id": 6, "platform_id": 1, "price": 3800, "available_count": 15},
    {"country_id": 6, "platform_id": 2, "price": 2500, "available_count": 0},  # "zero: choose
    {"country_id": 6, "platform_id": 3, "price": 1900, "available_count": 3},  # another country"
]
# "The response includes order_id, phone_number, status, and expires_at."
GUIDE_DOC_CREATED = GUIDE_CREATED
# The guide's own unit-test mocks for polling, verbatim (Python literals in the guide).
GUIDE_DOC_POLLS = [
    ({"success": True, "data": {"status": "pending", "otp_code": None}}, OrderStatus.WAITING, ""),
    (
        {"success": True, "data": {"status": "completed", "otp_code": "847291"}},
        OrderStatus.COMPLETED,
        "847291",
    ),
    ({"success": True, "data": {"status": "expired", "otp_code": None}}, OrderStatus.EXPIRED, ""),
    # "status is "pending" or "active" — keep waiting"; "expired and cancelled are terminal"
    ({"success": True, "data": {"status": "active", "otp_code": None}}, OrderStatus.WAITING, ""),
    (
        {"success": True, "data": {"status": "cancelled", "otp_code": None}},
        OrderStatus.CANCELLED,
        "",
    ),
]
# The guide's error table: code → what a client does; "HTTP 4xx (except 429)".
GUIDE_DOC_ERRORS = [
    (402, "INSUFFICIENT_BALANCE", "Balance too low to create order", InsufficientBalance),
    (422, "PRODUCT_UNAVAILABLE", "No numbers in stock for this country/platform", OutOfStock),
    (404, "ORDER_NOT_FOUND", "Order ID doesn't exist", NotFound),
    (429, "RATE_LIMIT_EXCEEDED", "Per-minute limit hit", RateLimited),
    (400, "INVALID_PARAMETERS", "Malformed request body", InvalidRequest),
    (401, None, "the token is wrong or missing", AuthFailed),
    (403, None, "the token lacks the required permissions", AuthFailed),
]
GUIDE_LACKS = ["bulk_active", "finish", "operator", "pricing_option", "quantity", "resend"]
GUIDE = {"dialect": "guide"}

GUIDE_ROUTES: dict[str, Any] = {
    "GET /v1/balance": GUIDE_DOC_BALANCE,
    "GET /v1/catalog/countries": ok(GUIDE_DOC_COUNTRIES),
    "GET /v1/catalog/products": ok(GUIDE_DOC_PRODUCTS),
    "POST /v1/orders": Reply(201, ok(GUIDE_DOC_CREATED)),
    "GET /v1/orders/order-123": GUIDE_DOC_POLLS[0][0],
    "DELETE /v1/orders/order-123": ok({"order_id": "order-123", "status": "cancelled"}),
    # A guide host reads /orders/active as an order id.
    "GET /v1/orders/active": Reply(404, fail("ORDER_NOT_FOUND", "Order ID doesn't exist")),
}


def guide_host(rsps, **overrides: Any) -> FakeSmsCode:
    return FakeSmsCode(rsps, GUIDE_ROUTES | overrides)


@pytest.fixture
def learned() -> list[dict]:
    """What on_learn received, one entry per call."""
    return []


@pytest.fixture
def guide_client(sleeps, learned) -> SmsCodeClient:
    """A client whose account already knows its host speaks the guide's dialect."""
    return make_client(sleeps, facts=dict(GUIDE), on_learn=learned.append)


@pytest.fixture
def new_client(sleeps, learned) -> SmsCodeClient:
    """A client for a new account: nothing learned about its host yet."""
    return make_client(sleeps, on_learn=learned.append)


def test_it_reads_the_guides_balance_example(rsps, new_client, learned):
    guide_host(rsps)
    assert new_client.get_balance() == Balance(Decimal("150000"), "IDR")
    assert learned == []  # both dialects serve /v1/balance alike: nothing to learn


def test_it_learns_the_guide_from_its_countries_rows_once(rsps, new_client, learned):
    api = guide_host(rsps)
    expected = [Country(id="6", name="Indonesia"), Country(id="22", name="India")]
    assert new_client.list_countries() == expected
    assert new_client.list_countries() == expected
    assert learned == [{"dialect": "guide", "missing": GUIDE_LACKS}]
    assert api.seen == ["GET /v1/catalog/countries"] * 2


def test_a_remembered_guide_turns_off_what_it_lacks(guide_client):
    assert not guide_client.supports(Capability.BULK_ACTIVE)
    assert not guide_client.supports(Capability.RESEND)
    assert guide_client.supports(Capability.MAX_PRICE)
    assert guide_client.supports(Capability.IDEMPOTENT_PURCHASE)


def test_it_learns_the_sdk_from_its_countries_rows(api, new_client, learned):
    new_client.list_countries()
    assert learned == [{"dialect": "sdk"}]
    assert new_client.supports(Capability.BULK_ACTIVE)


def test_it_lists_the_guides_products_and_filters_the_platform_itself(rsps, guide_client):
    api = guide_host(rsps)
    assert guide_client.list_products(country_id="6", service_id="1") == [
        Product(
            id="",
            name="",
            country_id="6",
            platform_id="1",
            price=Decimal("3800"),
            currency="IDR",
            stock=15,
        )
    ]
    assert query(rsps) == {"country_id": ["6"]}  # the guide filters by country only
    assert api.seen == ["GET /v1/catalog/products"]


def test_it_quotes_the_guides_rows_with_their_stock(rsps, guide_client):
    guide_host(rsps)
    quotes = guide_client.get_quotes(country_id="6")
    assert [(q.service_id, q.price, q.stock, q.product_id) for q in quotes] == [
        ("3", Decimal("1900"), 3, ""),
        ("2", Decimal("2500"), 0, ""),
        ("1", Decimal("3800"), 15, ""),
    ]


def test_it_reads_platform_names_where_guide_rows_carry_them(rsps, guide_client):
    named = [GUIDE_DOC_PRODUCTS[0] | {"platform": "WhatsApp", "country": "Indonesia"}]
    guide_host(rsps, **{"GET /v1/catalog/products": ok(named)})
    [product] = guide_client.list_products()
    assert (product.platform_name, product.country_name) == ("WhatsApp", "Indonesia")
    assert guide_client.list_services() == [Service(id="1", name="WhatsApp")]


def test_it_reads_the_guides_services_from_its_products(rsps, guide_client):
    api = guide_host(rsps)
    assert [s.id for s in guide_client.list_services(country_id="6")] == ["1", "3"]  # in stock
    assert [s.id for s in guide_client.list_services()] == ["1", "2", "3"]
    assert api.seen == ["GET /v1/catalog/products"] * 2


def test_it_finds_the_guides_missing_services_list_by_its_404(rsps, new_client, learned):
    api = guide_host(rsps)
    assert [s.id for s in new_client.list_services(country_id="6")] == ["1", "3"]
    assert api.seen == ["GET /v1/catalog/services", "GET /v1/catalog/products"]
    assert learned == [{"dialect": "guide", "missing": GUIDE_LACKS}]


def test_it_fetches_the_guides_catalog_in_two_requests(rsps, new_client):
    api = guide_host(rsps)
    catalog = new_client.fetch_catalog()
    assert [c.id for c in catalog.countries] == ["6", "22"]
    assert [s.id for s in catalog.services] == ["1", "2", "3"]
    assert [q.price for q in catalog.quotes] == [Decimal(1900), Decimal(2500), Decimal(3800)]
    assert api.seen == ["GET /v1/catalog/countries", "GET /v1/catalog/products"]


def test_it_buys_by_country_and_platform_in_the_guides_dialect(rsps, guide_client):
    api = guide_host(rsps)
    assert guide_client.purchase(wa_request(idempotency_key="order-abc_1")) == [
        Purchase(
            order_id="order-123",
            phone_number="6281234567890",
            cost=Decimal("3800"),  # the listed price: the guide's answer carries none
            currency="IDR",
            expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
            status=OrderStatus.WAITING,
            raw_status="pending",
        )
    ]
    assert api.seen == ["GET /v1/catalog/products", "POST /v1/orders"]
    assert sent(rsps) == {"country_id": 6, "platform_id": 1}
    assert rsps.calls[-1].request.headers["Idempotency-Key"] == "order-abc_1"


def test_it_detects_the_guide_on_a_purchase_without_buying_twice(rsps, new_client, learned):
    api = guide_host(rsps)
    [purchase] = new_client.purchase(wa_request())
    # The catalogue read the purchase needs showed the dialect: no SDK create was sent.
    assert api.seen == ["GET /v1/catalog/products", "POST /v1/orders"]
    assert purchase.order_id == "order-123" and len(learned) == 1


def test_it_detects_the_guide_by_the_404_of_a_blind_create(rsps, new_client, learned):
    api = guide_host(rsps)
    [purchase] = new_client.purchase(wa_request(product_id="501", idempotency_key="k-1"))
    assert api.seen == [
        "POST /v1/orders/create",  # 404: nothing bought
        "GET /v1/catalog/products",
        "POST /v1/orders",
    ]
    assert [c.request.headers["idempotency-key"] for c in rsps.calls[::2]] == ["k-1", "k-1"]
    assert purchase.order_id == "order-123" and learned[0]["dialect"] == "guide"


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": 2},
        {"operator": "12"},
        {"pricing_option": PricingOption.BEST_SUCCESS},
        {"service_id": "", "country_id": "", "product_id": "501"},
    ],
)
def test_it_refuses_what_the_guides_create_cannot_say(rsps, guide_client, changes):
    api = guide_host(rsps)
    with pytest.raises(Unsupported, match="integration guide"):
        guide_client.purchase(PurchaseRequest(**{"service_id": "1", "country_id": "6"} | changes))
    assert "POST /v1/orders" not in api.seen


def test_it_says_out_of_stock_from_the_guides_zero_count(rsps, guide_client):
    api = guide_host(rsps)
    with pytest.raises(OutOfStock):
        guide_client.purchase(PurchaseRequest(service_id="2", country_id="6"))
    assert api.seen == ["GET /v1/catalog/products"]


def test_it_guards_max_price_against_the_guides_listed_price(rsps, guide_client):
    api = guide_host(rsps)
    with pytest.raises(PriceTooHigh):
        guide_client.purchase(wa_request(max_price=Decimal("3799")))
    assert api.seen == ["GET /v1/catalog/products"]
    guide_client.purchase(wa_request(max_price=Decimal("3800")))
    assert sent(rsps) == {"country_id": 6, "platform_id": 1}  # the guide takes no max_price


@pytest.mark.parametrize(("status", "code", "message", "error"), GUIDE_DOC_ERRORS)
def test_it_maps_the_guides_error_table(rsps, guide_client, status, code, message, error):
    headers = {"Retry-After": "4"} if status == 429 else {}
    reply = Reply(status, fail(code, message), headers=headers)
    guide_host(rsps, **{"POST /v1/orders": reply})
    with pytest.raises(error) as caught:
        guide_client.purchase(wa_request())
    assert caught.value.provider_code == (code or caught.value.provider_code)
    assert type(caught.value) is error


@pytest.mark.parametrize(("body", "status", "code"), GUIDE_DOC_POLLS)
def test_it_reads_the_guides_poll_examples(rsps, guide_client, body, status, code):
    guide_host(rsps, **{"GET /v1/orders/order-123": body})
    order = guide_client.get_order("order-123")
    assert (order.order_id, order.status, order.code) == ("order-123", status, code)


def test_it_reads_the_guides_full_poll_view(rsps, guide_client):
    view = GUIDE_DOC_CREATED | {"status": "completed", "otp_code": "847291"}
    guide_host(rsps, **{"GET /v1/orders/order-123": ok(view)})
    assert guide_client.get_order("order-123") == OrderState(
        order_id="order-123",
        status=OrderStatus.COMPLETED,
        raw_status="completed",
        code="847291",
        phone_number="6281234567890",
        expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
    )


def test_it_cancels_with_the_guides_delete(rsps, guide_client):
    api = guide_host(rsps)
    assert guide_client.cancel("order-123") == CancelResult(
        order_id="order-123", refunded=None, currency="IDR"
    )
    assert api.seen == ["DELETE /v1/orders/order-123"]
    assert rsps.calls[-1].request.body is None


def test_it_reads_a_locked_guide_cancel_as_cancel_too_early(rsps, guide_client):
    locked = Reply(409, fail("CANCEL_TOO_EARLY", "Too early"), headers={"Retry-After": "25"})
    api = guide_host(rsps, **{"DELETE /v1/orders/order-123": locked})
    with pytest.raises(CancelTooEarly) as caught:
        guide_client.cancel("order-123")
    assert caught.value.retry_after == 25.0
    assert api.seen == ["DELETE /v1/orders/order-123"]


def test_it_reports_the_guides_unknown_order_without_trying_the_sdk(rsps, guide_client):
    missing = Reply(404, fail("ORDER_NOT_FOUND", "Order ID doesn't exist"))
    api = guide_host(rsps, **{"DELETE /v1/orders/order-9": missing})
    with pytest.raises(NotFound):
        guide_client.cancel("order-9")
    assert api.seen == ["DELETE /v1/orders/order-9"]


def test_it_detects_the_guide_on_a_cancel(rsps, new_client, learned):
    api = guide_host(rsps)
    assert new_client.cancel("order-123").order_id == "order-123"
    assert api.seen == ["POST /v1/orders/cancel", "DELETE /v1/orders/order-123"]
    assert learned[0]["dialect"] == "guide"


def test_an_unknown_order_on_an_sdk_host_does_not_change_the_dialect(rsps, sleeps, learned):
    client = make_client(sleeps, facts={"dialect": "sdk"}, on_learn=learned.append)
    api = serve(rsps, **{"POST /v1/orders/cancel": Reply(404, fail("NOT_FOUND", "No order"))})
    with pytest.raises(NotFound, match="No order"):
        client.cancel("4999")
    assert api.seen == ["POST /v1/orders/cancel", "DELETE /v1/orders/4999"]
    assert learned == [] and client.dialect == "sdk"


def test_the_guides_finish_is_a_no_op(rsps, guide_client):
    api = guide_host(rsps)
    assert guide_client.finish("order-123") is None
    assert api.seen == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.resend("order-123"),
        lambda c: c.list_active_orders(),
        lambda c: c.list_orders(),
        lambda c: c.list_operators("6", "1"),
        lambda c: c.get_exchange_rate(),
        lambda c: c.reactivate("order-123"),
        lambda c: c.reactivate_options("order-123"),
    ],
    ids=["resend", "active", "orders", "operators", "fx", "reactivate", "reactivate_options"],
)
def test_it_says_what_the_guides_dialect_lacks_without_asking(rsps, guide_client, call):
    api = guide_host(rsps)
    with pytest.raises(Unsupported, match="integration guide"):
        call(guide_client)
    assert api.seen == []


def test_it_detects_the_guide_on_the_active_list(rsps, new_client, learned):
    api = guide_host(rsps)
    with pytest.raises(Unsupported):
        new_client.list_active_orders()
    assert api.seen == ["GET /v1/orders/active"]  # ORDER_NOT_FOUND: the list is not there
    assert learned[0]["dialect"] == "guide"


@pytest.mark.parametrize("method", ["finish", "resend"])
def test_it_probes_once_when_finish_or_resend_meets_a_404(rsps, new_client, learned, method):
    api = guide_host(rsps)
    if method == "finish":
        assert new_client.finish("order-123") is None
    else:
        with pytest.raises(Unsupported):
            new_client.resend("order-123")
    assert api.seen == [f"POST /v1/orders/{method}", "GET /v1/catalog/services"]
    assert learned[0]["dialect"] == "guide"


def test_a_404_finish_on_an_sdk_host_is_an_unknown_order(rsps, sleeps, learned):
    client = make_client(sleeps, facts={"dialect": "sdk"}, on_learn=learned.append)
    api = serve(rsps, **{"POST /v1/orders/finish": Reply(404, fail("NOT_FOUND", "No order"))})
    with pytest.raises(NotFound):
        client.finish("4999")
    assert api.seen == ["POST /v1/orders/finish", "GET /v1/catalog/services"]
    assert learned == []


def test_a_usd_account_on_a_guide_host_reads_idr_from_v1(rsps, sleeps, learned):
    client = make_client(sleeps, currency="USD", on_learn=learned.append)
    api = guide_host(rsps)
    assert client.get_balance() == Balance(Decimal("150000"), "IDR")
    assert api.seen == ["GET /v2/balance", "GET /v1/balance"]
    assert learned[0]["dialect"] == "guide"
    assert [q.currency for q in client.get_quotes()] == ["IDR"] * 3
    assert api.seen[-1] == "GET /v1/catalog/products"


def test_it_re_detects_once_when_a_remembered_sdk_host_turns_guide(rsps, sleeps, learned):
    client = make_client(sleeps, facts={"dialect": "sdk"}, on_learn=learned.append)
    api = guide_host(rsps)
    assert [s.id for s in client.list_services()] == ["1", "2", "3"]
    assert [s.id for s in client.list_services()] == ["1", "2", "3"]
    assert api.seen == [
        "GET /v1/catalog/services",
        "GET /v1/catalog/products",
        "GET /v1/catalog/products",  # remembered: no second 404
    ]
    assert learned == [{"dialect": "guide", "missing": GUIDE_LACKS}]


def test_it_re_detects_once_when_a_remembered_guide_host_turns_sdk(rsps, sleeps, learned):
    facts = {"dialect": "guide", "missing": GUIDE_LACKS}
    client = make_client(sleeps, facts=facts, on_learn=learned.append)
    api = serve(rsps)  # an SDK host without the guide's aliases
    assert client.cancel("12345").refunded == Decimal("3500")
    assert client.cancel("12345").refunded == Decimal("3500")
    assert api.seen == [
        "DELETE /v1/orders/12345",
        "POST /v1/orders/cancel",
        "POST /v1/orders/cancel",
    ]
    assert learned == [{"dialect": "sdk", "missing": []}]
    assert client.supports(Capability.BULK_ACTIVE)


def test_a_remembered_dialect_is_not_detected_again(rsps, learned):
    api = guide_host(rsps)
    first = make_client(on_learn=learned.append)
    first.list_services()  # detected by the 404 of the SDK's services list
    second = make_client(facts=learned[-1], on_learn=learned.append)
    second.fetch_catalog()
    second.list_services()
    second.purchase(wa_request(product_id="501"))
    second.cancel("order-123")
    assert len(learned) == 1
    assert api.seen.count("GET /v1/catalog/services") == 1  # only the first client's
    assert not {"POST /v1/orders/create", "POST /v1/orders/cancel"} & set(api.seen)


GUIDE_METHODS = {
    "get_balance": lambda c: c.get_balance(),
    "list_countries": lambda c: c.list_countries(),
    "list_services": lambda c: c.list_services(country_id="6"),
    "get_quotes": lambda c: c.get_quotes(service_id="1", country_id="6"),
    "fetch_catalog": lambda c: c.fetch_catalog(),
    "purchase": lambda c: c.purchase(wa_request(max_price=Decimal("4000"))),
    "get_order": lambda c: c.get_order("order-123"),
    "cancel": lambda c: c.cancel("order-123"),
}


@pytest.mark.parametrize("facts", [GUIDE, {}], ids=["remembered", "new"])
@pytest.mark.parametrize("method", GUIDE_METHODS.values(), ids=GUIDE_METHODS.keys())
def test_it_survives_wrong_types_in_every_guide_field(method, facts):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeSmsCode(mock, GUIDE_ROUTES)
        method(make_client(facts=dict(facts)))
    for route in [r for r in GUIDE_ROUTES if r in api.seen]:
        reply = GUIDE_ROUTES[route]
        body = reply.body if isinstance(reply, Reply) else reply
        for mutated in mutations(body):
            with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                FakeSmsCode(mock, GUIDE_ROUTES | {route: Reply(200, mutated)})
                within_taxonomy(lambda: method(make_client(facts=dict(facts))))


# --- the key stays secret ---------------------------------------------------------------------


def test_it_keeps_the_key_out_of_logs_errors_and_repr(rsps, caplog):
    caplog.set_level(logging.DEBUG)
    serve(
        rsps,
        **{
            "GET /v1/balance": Reply(401, fail("UNAUTHORIZED", f"Bad token {KEY}")),
            "POST /v1/orders/cancel": Reply(409, fail("CANCEL_TOO_EARLY", f"wait {KEY}")),
            "GET /v1/orders/12345": Reply(422, fail(None, f"Bearer {KEY} is invalid")),
        },
    )
    client = make_client()
    texts = []
    for call in (client.get_balance, lambda: client.cancel("12345")):
        with pytest.raises(ProviderError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), caught.value.message]
    assert KEY not in " ".join(texts)
    assert KEY not in repr(client)
    assert KEY not in caplog.text
    assert caplog.records
