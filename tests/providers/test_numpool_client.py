"""NumPoolClient against numpool-api.txt's examples, served by `responses`.

Every request goes through the real Transport (no budget, a fake sleep), so
retries, 429 handling and key redaction are the production ones.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.clients.numpool import NumPoolClient
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
from providers.http import Transport
from providers.types import (
    ActivationType,
    Balance,
    CancelResult,
    Capability,
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

BASE = "https://numpool.test/api/v1"
KEY = "np_live_Sup3rSecretKey42"

# --- the examples of numpool-api.txt, verbatim where the doc gives JSON -----------------------

DOC_SERVICES = [
    {"id": "wa", "name": "WhatsApp", "domain": "whatsapp.com"},
    {"id": "tg", "name": "Telegram", "domain": "telegram.org"},
]
DOC_COUNTRIES = [
    {"id": 0, "name": "Russia"},
    {"id": 28, "name": "England"},
    {"id": 187, "name": "USA"},
]
DOC_SERVICE_COUNTRIES = [
    {"id": 187, "name": "USA", "flag": "US", "price": 0.43, "stock": 338400, "currency": "USD"}
]
DOC_BUY = {
    "order_id": "a1b2c3...",
    "number": "+1XXXXXXXXXX",
    "cost": 0.43,
    "status": "pending",
    "poll_url": "https://numpool.com/api/v1/sms/a1b2c3...",
}
DOC_POLL = {
    "order_id": "a1b2c3",
    "status": "received",
    "code": "123456",
    "full_sms": "Your code is 123456",
    "number": "+1...",
}
DOC_CANCEL = {"ok": True, "order_id": "a1b2c3", "refunded": 0.43}
DOC_RENTAL_SERVICES = [{"service": "discord", "name": "Discord"}]
DOC_RENTAL_PRICES = {
    "service": "discord",
    "durations": [
        {"duration": "oneDay", "days": 1, "price": 1.20},
        {"duration": "threeDay", "days": 3, "price": 2.10},
        {"duration": "sevenDay", "days": 7, "price": 4.50},
        {"duration": "fourteenDay", "days": 14, "price": 7.00},
        {"duration": "thirtyDay", "days": 30, "price": 12.00},
    ],
}
DOC_RENT = {
    "rental_id": "r1...",
    "number": "+1XXXXXXXXXX",
    "days": 7,
    "cost": 4.50,
    "ends_at": "2026-06-20T...",
    "inbox_url": "https://numpool.com/api/v1/rentals/r1.../sms",
}
DOC_INBOX = {
    "rental_id": "r1",
    "messages": [
        {"from": "Discord", "body": "Your code is 123456", "code": "123456", "at": "2026-06-13T..."}
    ],
}
DOC_BALANCE = {"balance": 12.40, "currency": "USD"}

# Undocumented shapes (the doc shows no response for /orders and GET /rentals).
ORDERS = [
    {
        "order_id": "o1",
        "status": "waiting",
        "code": None,
        "full_sms": None,
        "number": "+14155552671",
        "service": "wa",
        "country": 187,
        "cost": 0.43,
        "created_at": "2026-06-13T10:00:00Z",
        "expires_at": "2026-06-13T10:20:00Z",
    },
    {"order_id": "o2", "status": "received", "code": "111222", "full_sms": "code 111222"},
    {"order_id": "o3", "status": "cancelled", "code": None, "full_sms": None},
]
RENTALS = [
    {"rental_id": "r1", "number": "+14155550000", "ends_at": "2026-06-20T12:00:00Z", "cost": 4.5},
    {"id": "r2", "number": "+14155550001", "status": "expired"},
]


# --- a tiny fake NumPool ----------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


ROUTES: dict[str, Any] = {
    "GET /balance": DOC_BALANCE,
    "GET /services": DOC_SERVICES,
    "GET /countries": DOC_COUNTRIES,
    "GET /countries?service=wa": DOC_SERVICE_COUNTRIES,
    "GET /countries?service=tg": [
        {"id": 28, "name": "England", "flag": "GB", "price": "0.30", "stock": 5},
        {"id": 0, "name": "Russia", "flag": "RU", "price": None, "stock": 0},
    ],
    "POST /buy": DOC_BUY,
    "GET /sms/a1b2c3": DOC_POLL,
    "POST /cancel/a1b2c3": DOC_CANCEL,
    "GET /orders": ORDERS,
    "GET /rentals/services": DOC_RENTAL_SERVICES,
    "GET /rentals/prices?service=discord": DOC_RENTAL_PRICES,
    "POST /rentals": DOC_RENT,
    "GET /rentals": RENTALS,
    "GET /rentals/r1/sms": DOC_INBOX,
}


class FakeNumPool:
    """Serves ROUTES-like replies by "METHOD /path[?query]"; a list is served in order."""

    def __init__(self, rsps: responses.RequestsMock, routes: dict[str, Any]):
        self.routes = {k: list(v) if isinstance(v, tuple) else v for k, v in routes.items()}
        self.seen: list[str] = []
        for method in ("GET", "POST"):
            rsps.add_callback(method, re.compile(re.escape(BASE) + r"/.*"), callback=self.reply)

    def reply(self, request) -> tuple[int, dict, str]:
        parts = urlsplit(request.url)
        path = parts.path.removeprefix(urlsplit(BASE).path)
        query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query) if k == "service")
        key = f"{request.method} {path}"
        self.seen.append(f"{key}?{query}" if query else key)
        reply = self.routes.get(f"{key}?{query}" if query else key, self.routes.get(key))
        if isinstance(reply, list) and reply and isinstance(reply[0], Reply):
            reply = reply.pop(0) if len(reply) > 1 else reply[0]
        if reply is None:
            reply = Reply(404, {"error": "Not found"})
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


def make_client(sleeps: list[float] | None = None) -> NumPoolClient:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    transport = Transport(label="numpool", secrets=(KEY,), budget=None, sleep=sleep)
    return NumPoolClient(base_url=BASE + "/", api_key=KEY, transport=transport)


@pytest.fixture
def client(sleeps) -> NumPoolClient:
    return make_client(sleeps)


@pytest.fixture
def api(rsps) -> FakeNumPool:
    return FakeNumPool(rsps, ROUTES)


def serve(rsps, **overrides: Any) -> FakeNumPool:
    """ROUTES with some replaced: serve(rsps, **{"GET /balance": Reply(...)})."""
    return FakeNumPool(rsps, ROUTES | overrides)


def wa_request(**changes: Any) -> PurchaseRequest:
    return PurchaseRequest(service_id="wa", country_id="187", **changes)


# --- account and catalog ----------------------------------------------------------------------


def test_it_reads_the_balance(api, client, rsps):
    assert client.get_balance() == Balance(Decimal("12.4"), "USD")
    assert rsps.calls[0].request.headers["X-API-Key"] == KEY


def test_it_lists_services(api, client):
    assert client.list_services() == [
        Service(id="wa", name="WhatsApp", code="wa"),
        Service(id="tg", name="Telegram", code="tg"),
    ]


def test_it_lists_countries_with_id_zero(api, client):
    assert client.list_countries() == [
        Country(id="0", name="Russia"),
        Country(id="28", name="England"),
        Country(id="187", name="USA"),
    ]


def test_it_quotes_one_service(api, client):
    assert client.get_quotes(service_id="wa") == [
        Quote(
            service_id="wa",
            country_id="187",
            price=Decimal("0.43"),
            currency="USD",
            stock=338400,
        )
    ]
    assert api.seen == ["GET /countries?service=wa"]


def test_it_quotes_every_service_with_one_request_each(api, client):
    quotes = client.get_quotes()
    assert [(q.service_id, q.country_id, q.price) for q in quotes] == [
        ("wa", "187", Decimal("0.43")),
        ("tg", "28", Decimal("0.30")),  # Russia has no price: not quoted
    ]
    assert api.seen == ["GET /services", "GET /countries?service=wa", "GET /countries?service=tg"]


def test_it_filters_quotes_by_country(api, client):
    assert [q.service_id for q in client.get_quotes(country_id="28")] == ["tg"]


def test_it_fetches_the_catalog_with_iso_codes_from_the_price_lists(api, client):
    catalog = client.fetch_catalog()
    assert catalog.countries == [
        Country(id="0", name="Russia", iso="RU"),
        Country(id="28", name="England", iso="GB"),
        Country(id="187", name="USA", iso="US"),
    ]
    assert [s.id for s in catalog.services] == ["wa", "tg"]
    assert len(catalog.quotes) == 2
    assert len(api.seen) == 2 + len(DOC_SERVICES)  # the documented cost


# --- activations ------------------------------------------------------------------------------


def test_it_buys_a_number(api, client, rsps):
    purchases = client.purchase(wa_request())
    assert purchases == [
        Purchase(
            order_id="a1b2c3...",
            phone_number="1XXXXXXXXXX",
            cost=Decimal("0.43"),
            currency="USD",
            status=OrderStatus.WAITING,
            raw_status="pending",
        )
    ]
    assert json.loads(rsps.calls[0].request.body) == {"service": "wa", "country": 187}


def test_it_sends_the_operator(api, client, rsps):
    client.purchase(wa_request(operator="tmobile"))
    assert json.loads(rsps.calls[0].request.body)["operator"] == "tmobile"


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": 2},
        {"max_price": Decimal("1")},
        {"pool": "alpha"},
        {"area_codes": ("212",)},
        {"activation_type": ActivationType.VOICE},
    ],
)
def test_it_refuses_options_numpool_lacks(api, client, changes):
    with pytest.raises(Unsupported):
        client.purchase(wa_request(**changes))
    assert api.seen == []


def test_it_refuses_a_country_that_is_not_a_number(api, client):
    with pytest.raises(InvalidRequest):
        client.purchase(PurchaseRequest(service_id="wa", country_id="usa"))
    assert api.seen == []


def test_it_polls_an_order(api, client):
    assert client.get_order("a1b2c3") == OrderState(
        order_id="a1b2c3",
        status=OrderStatus.RECEIVED,
        raw_status="received",
        code="123456",
        full_text="Your code is 123456",
        phone_number="1",  # the doc's "+1..." elides the digits; "." is a separator
    )


@pytest.mark.parametrize(
    ("raw", "code", "expected"),
    [
        ("waiting", None, OrderStatus.WAITING),
        ("pending", None, OrderStatus.WAITING),
        ("received", "123456", OrderStatus.RECEIVED),
        ("Received", "123456", OrderStatus.RECEIVED),
        ("cancelled", None, OrderStatus.CANCELLED),
        ("waiting", "654321", OrderStatus.RECEIVED),  # a code is an arrival
        ("something_new", None, OrderStatus.UNKNOWN),
        ("", None, OrderStatus.UNKNOWN),
    ],
)
def test_it_maps_order_statuses(rsps, client, raw, code, expected):
    serve(rsps, **{"GET /sms/a1b2c3": {"order_id": "a1b2c3", "status": raw, "code": code}})
    assert client.get_order("a1b2c3").status == expected


def test_it_cancels_and_reports_the_refund(api, client):
    assert client.cancel("a1b2c3") == CancelResult(
        order_id="a1b2c3", refunded=Decimal("0.43"), currency="USD"
    )


def test_it_never_retries_a_purchase(rsps, client, sleeps):
    api = serve(rsps, **{"POST /buy": Reply(503, text="")})
    with pytest.raises(UpstreamUnavailable):
        client.purchase(wa_request())
    assert api.seen == ["POST /buy"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (Reply(400, {"error": "Missing or invalid parameters"}), InvalidRequest, None),
        (Reply(400, {"error": "Order cannot be cancelled yet"}), CancelTooEarly, 60.0),
        (
            Reply(400, {"error": "Too early to cancel, try again in 45 seconds"}),
            CancelTooEarly,
            45.0,
        ),
        (Reply(400, {"error": "Cancel not allowed yet: wait 2 minutes"}), CancelTooEarly, 120.0),
        (Reply(400, {"error": "Order is not pending"}), InvalidRequest, None),
        (Reply(401, {"error": "Missing or invalid API key"}), AuthFailed, None),
        (Reply(401, text="<html>Unauthorized</html>"), AuthFailed, None),
        (Reply(402, {"error": "Insufficient wallet balance"}), InsufficientBalance, None),
        (Reply(400, {"error": "Insufficient balance"}), InsufficientBalance, None),
        (Reply(404, {"error": "Order not found"}), NotFound, None),
        (Reply(400, {"error": "Out of stock"}), OutOfStock, None),
        (Reply(404, {"error": "No numbers available for this country"}), OutOfStock, None),
        (Reply(404, text="<html><h1>404</h1></html>"), UpstreamUnavailable, None),
        (Reply(200, {"error": "Out of stock"}), OutOfStock, None),
        (Reply(200, {"ok": False, "error": "Order is not pending"}), InvalidRequest, None),
        (Reply(429, {"error": "Too many requests"}), RateLimited, None),
        (Reply(500, {"error": "boom"}), UpstreamUnavailable, None),
        (Reply(502, text="<html>Bad gateway</html>"), UpstreamUnavailable, None),
    ],
)
def test_it_maps_errors(rsps, client, reply, error, retry_after):
    serve(rsps, **{"POST /cancel/a1b2c3": reply})
    with pytest.raises(error) as caught:
        client.cancel("a1b2c3")
    assert type(caught.value) is error
    if retry_after is not None:
        assert caught.value.retry_after == retry_after


def test_it_honours_retry_after_on_429(rsps, client, sleeps):
    api = serve(
        rsps,
        **{
            "GET /balance": (
                Reply(429, {"error": "Too many"}, headers={"Retry-After": "7"}),
                Reply(200, DOC_BALANCE),
            )
        },
    )
    assert client.get_balance().amount == Decimal("12.4")
    assert sleeps == [7.0]
    assert api.seen == ["GET /balance", "GET /balance"]


def test_it_retries_a_read_after_a_5xx(rsps, client, sleeps):
    api = serve(rsps, **{"GET /sms/a1b2c3": (Reply(503, text=""), Reply(200, DOC_POLL))})
    assert client.get_order("a1b2c3").code == "123456"
    assert len(api.seen) == 2 and len(sleeps) == 1


# --- order list (undocumented shape) ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [ORDERS, {"orders": ORDERS}, {"data": ORDERS, "total": 3}],
    ids=["bare", "orders", "data"],
)
def test_it_lists_orders_in_any_wrapping(rsps, client, body):
    api = serve(rsps, **{"GET /orders": body})
    orders = client.list_orders(limit=20, offset=0)
    assert orders[0] == OrderState(
        order_id="o1",
        status=OrderStatus.WAITING,
        raw_status="waiting",
        phone_number="14155552671",
        expires_at=datetime(2026, 6, 13, 10, 20, tzinfo=UTC),
        cost=Decimal("0.43"),
        currency="USD",
        service="wa",
        country="187",
    )
    assert [o.status for o in orders] == [
        OrderStatus.WAITING,
        OrderStatus.RECEIVED,
        OrderStatus.CANCELLED,
    ]
    assert api.seen == ["GET /orders"]


def test_it_lists_active_orders_from_the_order_list(api, client, rsps):
    assert [o.order_id for o in client.list_active_orders()] == ["o1", "o2"]
    assert "limit=100" in rsps.calls[0].request.url
    assert Capability.BULK_ACTIVE not in client.capabilities


def test_it_will_not_guess_active_orders_without_status_and_code(rsps, client):
    serve(rsps, **{"GET /orders": [{"order_id": "o1", "number": "+1415"}]})
    with pytest.raises(Unsupported):
        client.list_active_orders()


# --- rentals ----------------------------------------------------------------------------------


def test_it_lists_rental_offers_by_days(api, client):
    assert client.list_rental_offers() == [
        RentalOffer(
            id="discord",
            name="Discord",
            durations={
                1: Decimal("1.2"),
                3: Decimal("2.1"),
                7: Decimal("4.5"),
                14: Decimal("7.0"),
                30: Decimal("12.0"),
            },
            currency="USD",
            unit="day",
            extendable=False,
            refundable=False,
            country_iso="US",
            service_id="discord",
        )
    ]
    assert api.seen == ["GET /rentals/services", "GET /rentals/prices?service=discord"]


def test_it_reads_durations_by_key_when_days_are_missing(rsps, client):
    prices = {"service": "discord", "durations": {"oneDay": "1.20", "fortnight": "9.99"}}
    serve(rsps, **{"GET /rentals/prices?service=discord": prices})
    [offer] = client.list_rental_offers(service_id="discord")
    assert offer.durations == {1: Decimal("1.20")}


def test_it_rents_for_days_as_a_duration_key(api, client, rsps):
    rental = client.rent(RentalRequest(offer_id="discord", duration=7))
    assert rental == RentalPurchase(
        rental_id="r1...",
        phone_number="1XXXXXXXXXX",
        expires_at=None,  # the doc's "2026-06-20T..." is not a time
        cost=Decimal("4.5"),
        currency="USD",
        duration=7,
        unit="day",
    )
    assert json.loads(rsps.calls[0].request.body) == {"service": "discord", "duration": "sevenDay"}


def test_it_reads_a_real_rental_end(rsps, client):
    serve(rsps, **{"POST /rentals": DOC_RENT | {"ends_at": "2026-06-20T08:30:00Z"}})
    rental = client.rent(RentalRequest(offer_id="discord", duration=7))
    assert rental.expires_at == datetime(2026, 6, 20, 8, 30, tzinfo=UTC)


def test_it_refuses_a_length_numpool_does_not_rent(api, client):
    with pytest.raises(InvalidRequest):
        client.rent(RentalRequest(offer_id="discord", duration=5))
    assert api.seen == []


@pytest.mark.parametrize("body", [RENTALS, {"rentals": RENTALS}, {"data": RENTALS}])
def test_it_lists_rentals_in_any_wrapping(rsps, client, body):
    serve(rsps, **{"GET /rentals": body})
    assert client.list_rentals() == [
        RentalState(
            rental_id="r1",
            phone_number="14155550000",
            expires_at=datetime(2026, 6, 20, 12, tzinfo=UTC),
            cost=Decimal("4.5"),
            currency="USD",
        ),
        RentalState(rental_id="r2", phone_number="14155550001", status="expired"),
    ]


def test_it_finds_one_rental_or_says_not_found(api, client):
    assert client.get_rental("r2").status == "expired"
    with pytest.raises(NotFound):
        client.get_rental("r9")


def test_it_reads_the_rental_inbox(api, client):
    assert client.list_rental_messages("r1") == [
        Message(text="Your code is 123456", code="123456", sender="Discord", received_at=None)
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.extend_rental("r1", 7),
        lambda c: c.refund_rental("r1"),
        lambda c: c.set_rental_auto_extend("r1", True),
        lambda c: c.wake_rental("r1"),
        lambda c: c.resend("a1b2c3"),
    ],
)
def test_it_says_what_numpool_cannot_do(api, client, call):
    with pytest.raises(Unsupported):
        call(client)
    assert api.seen == []


def test_it_declares_its_capabilities():
    assert NumPoolClient.capabilities == {Capability.OPERATOR, Capability.RENTALS}
    assert NumPoolClient.rate_limit == (60, 60.0)
    assert NumPoolClient(api_key=KEY).base_url == "https://numpool.com/api/v1"


# --- malformed bodies never escape the taxonomy -----------------------------------------------

METHODS = {
    "get_balance": lambda c: c.get_balance(),
    "list_services": lambda c: c.list_services(),
    "list_countries": lambda c: c.list_countries(),
    "get_quotes_one": lambda c: c.get_quotes(service_id="wa"),
    "get_quotes_all": lambda c: c.get_quotes(),
    "fetch_catalog": lambda c: c.fetch_catalog(),
    "purchase": lambda c: c.purchase(wa_request()),
    "get_order": lambda c: c.get_order("a1b2c3"),
    "cancel": lambda c: c.cancel("a1b2c3"),
    "list_orders": lambda c: c.list_orders(),
    "recent_orders": lambda c: c.recent_orders(datetime(2026, 1, 1, tzinfo=UTC)),
    "list_active_orders": lambda c: c.list_active_orders(),
    "list_rental_offers": lambda c: c.list_rental_offers(),
    "rent": lambda c: c.rent(RentalRequest(offer_id="discord", duration=7)),
    "list_rentals": lambda c: c.list_rentals(),
    "get_rental": lambda c: c.get_rental("r1"),
    "list_rental_messages": lambda c: c.list_rental_messages("r1"),
}

MALFORMED = {
    "html": Reply(200, text="<!doctype html><html><body>Maintenance</body></html>"),
    "html_404": Reply(404, text="<html><body>Not Found</body></html>"),
    "empty": Reply(200, text=""),
    "truncated": Reply(200, text='{"order_id": "a1b2c3", "status": "rec'),
    "null": Reply(200, None),
    "number": Reply(200, 42),
    "string": Reply(200, "ok"),
    "list_of_junk": Reply(200, [1, "a", None, [2]]),
    "wrapped_junk": Reply(200, {"data": [None, 3]}),
    "error_on_200": Reply(200, {"error": "Something went wrong"}),
    "error_object": Reply(400, {"error": {"code": 7, "message": ["nested"]}}),
    "wrong_types": Reply(
        200,
        {
            "order_id": ["x"],
            "id": {"a": 1},
            "status": 3,
            "code": {"v": 1},
            "number": 14155552671,
            "cost": "free",
            "balance": True,
            "currency": 5,
            "price": [],
            "stock": "lots",
            "durations": "oneDay",
            "messages": {"from": 1},
            "ends_at": 1718000000,
        },
    ),
}


def within_taxonomy(call) -> None:
    """Run `call`: a result or a ProviderError is fine; anything else fails the test."""
    with contextlib.suppress(ProviderError):
        call()


def every_route(reply: Reply) -> dict[str, Reply]:
    return {key: reply for key in ROUTES}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_it_turns_malformed_bodies_into_provider_errors(rsps, client, method, body):
    FakeNumPool(rsps, every_route(body))
    within_taxonomy(lambda: method(client))


def mutations(value: Any):
    """The body with one leaf at a time swapped for a wrong type, and with extra fields."""
    if isinstance(value, dict):
        yield value | {"unexpected": {"nested": [1, None]}, "ok": "yes"}
        for key, child in value.items():
            for mutated in mutations(child):
                yield value | {key: mutated}
            yield {k: v for k, v in value.items() if k != key}  # the field left out
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


def routes_used(method) -> list[str]:
    """The ROUTES keys `method` calls when every answer is the documented one."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeNumPool(mock, ROUTES)
        method(make_client())
    return [route for route in ROUTES if route in api.seen]


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_it_survives_wrong_types_in_every_field(method):
    for route in routes_used(method):
        for mutated in mutations(ROUTES[route]):
            with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                FakeNumPool(mock, ROUTES | {route: Reply(200, mutated)})
                within_taxonomy(lambda: method(make_client()))


FIELDS = st.sampled_from(
    ["order_id", "id", "status", "code", "full_sms", "number", "cost", "balance", "currency",
     "price", "stock", "flag", "name", "error", "ok", "orders", "data", "durations", "days",
     "duration", "messages", "from", "body", "at", "rental_id", "ends_at", "service", "refunded"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=5),
    max_leaves=12,
)


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON, status=st.sampled_from([200, 200, 201, 400, 402, 404, 409, 418]))
def test_it_survives_arbitrary_json(method, body, status):
    text = json.dumps(body)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeNumPool(mock, every_route(Reply(status, text=text)))
        within_taxonomy(lambda: method(make_client()))


# --- the key stays secret ---------------------------------------------------------------------


def test_it_keeps_the_key_out_of_logs_errors_and_repr(rsps, caplog):
    caplog.set_level(logging.DEBUG)
    echo = Reply(401, {"error": f"Invalid API key {KEY}"})
    serve(rsps, **{"GET /balance": echo, "GET /sms/a1b2c3": Reply(404, {"error": f"no {KEY}"})})
    client = make_client()
    messages = []
    for call in (lambda: client.get_balance(), lambda: client.get_order("a1b2c3")):
        with pytest.raises(ProviderError) as caught:
            call()
        messages += [str(caught.value), repr(caught.value), caught.value.message]
    assert KEY not in " ".join(messages)
    assert KEY not in repr(client)
    assert KEY not in caplog.text
    assert caplog.records  # the Transport did log the calls
