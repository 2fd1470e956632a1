"""SmsActivateClient against every answer of the protocol summary, clones' variants,
malformed bodies, secrets and retries.

The protocol document has no recorded bodies, so its answers are written out
below as test data, and a test checks that every token the document names is
exercised. HTTP is mocked with `responses`; the real Transport runs with no
rate budget and a recording fake sleep.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from responses import matchers

from providers.clients.smsactivate import (
    SmsActivateClient,
    standard_countries,
    standard_services,
)
from providers.errors import (
    ALL_ERRORS,
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
    Message,
    OrderState,
    OrderStatus,
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
from tests.providers import fixtures_docs

KEY = "Zq7SECRETkey0123456789abcdefWXYZ"
BASE = "https://activate.test/stubs/handler_api.php"
ANY_URL = re.compile(r"https://activate\.test/.*")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def make_client(sleeps: list[float] | None = None, **transport: Any) -> SmsActivateClient:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return SmsActivateClient(
        base_url=BASE,
        api_key=KEY,
        transport=Transport(
            label="smsactivate", secrets=(KEY,), budget=None, sleep=sleep, **transport
        ),
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> SmsActivateClient:
    return make_client(sleeps)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def reply(
    mocked: responses.RequestsMock,
    action: str,
    body: Any,
    status: int = 200,
    *,
    headers: dict | None = None,
    params: dict[str, str] | None = None,
) -> None:
    """Answer `action` (and, if given, only requests with `params`) with `body`."""
    wanted = {"action": action, **(params or {})}
    match = [matchers.query_param_matcher(wanted, strict_match=False)]
    content = body if isinstance(body, str | Exception) else json.dumps(body)
    mocked.add(responses.GET, BASE, body=content, status=status, match=match, headers=headers)


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def actions(mocked: responses.RequestsMock) -> list[str]:
    return [query(call)["action"] for call in mocked.calls]


class Raises:
    """An expected error: its class and, optionally, attributes it must carry."""

    def __init__(self, cls: type[ProviderError], **attrs: Any):
        self.cls, self.attrs = cls, attrs

    def check(self, run: Callable[[], Any]) -> None:
        with pytest.raises(self.cls) as caught:
            run()
        assert type(caught.value) is self.cls
        for name, value in self.attrs.items():
            actual = getattr(caught.value, name)
            assert value(actual) if callable(value) else actual == value, (name, actual)


def that(predicate: Callable[[Any], bool]) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert predicate(result), result

    return check


def expect_result(expected: Any, run: Callable[[], Any]) -> None:
    if isinstance(expected, Raises):
        expected.check(run)
    elif callable(expected):
        expected(run())
    else:
        assert run() == expected


# --- the protocol summary, as test data --------------------------------------------------

V2_NUMBER = {
    "activationId": 635468021,
    "phoneNumber": "79991234567",
    "activationCost": 12.5,
    "currency": 840,
    "countryCode": "0",
    "canGetAnotherSms": "1",
    "activationTime": "2024-01-06 18:03:15",
    "activationEndTime": "2024-01-06 18:23:15",
    "activationOperator": "mts",
}
ACTIVE = {
    "activationId": "635468024",
    "serviceCode": "tg",
    "phoneNumber": "79991234567",
    "activationCost": "12.50",
    "activationStatus": "4",
    "smsCode": ["123456"],
    "smsText": ["Your code is 123456"],
    "activationTime": "2024-01-06 18:03:15",
    "countryCode": "0",
    "canGetAnotherSms": "1",
    "currency": 840,
}
ACTIVE_STATE = OrderState(
    order_id="635468024",
    status=OrderStatus.RECEIVED,
    raw_status="4",
    code="123456",
    full_text="Your code is 123456",
    phone_number="79991234567",
    expires_at=utc(2024, 1, 6, 18, 23, 15),  # activationTime + 20 minutes
    cost=Decimal("12.50"),
    currency="USD",
    can_resend=True,
    service="tg",
    country="0",
)
RENT_PHONE = {
    "status": "success",
    "phone": {"id": 1049, "endDate": "2020-01-31T12:01:52", "number": "79959707564"},
}
RENT_STATUS = {
    "status": "success",
    "quantity": "2",
    "values": {
        "0": {
            "phoneFrom": "79180230628",
            "text": "5",
            "service": "ot",
            "date": "2020-01-30 14:31:58",
        },
        "1": {
            "phoneFrom": "Telegram",
            "text": "Code 777",
            "service": "tg",
            "date": "2020-01-30 14:40:00",
        },
    },
}
RENT_MESSAGES = [
    Message("5", sender="79180230628", received_at=utc(2020, 1, 30, 14, 31, 58)),
    Message("Code 777", sender="Telegram", received_at=utc(2020, 1, 30, 14, 40)),
]


def buy(client: SmsActivateClient) -> list[Purchase]:
    return client.purchase(PurchaseRequest(service_id="tg", country_id="0"))


def rent(client: SmsActivateClient) -> RentalPurchase:
    return client.rent(RentalRequest(offer_id="tg", duration=4, country_id="0"))


# getNumber examples are reached the way a clone without getNumberV2 makes us.
NO_V2 = [("getNumberV2", "BAD_ACTION")]

# (id, action answered, call, answer, expected, other answers first)
DOC_EXAMPLES: list[tuple[str, str, Callable[[SmsActivateClient], Any], Any, Any, list]] = [
    (
        "balance",
        "getBalance",
        lambda c: c.get_balance(),
        "ACCESS_BALANCE:12.50",
        Balance(Decimal("12.50"), "USD"),
        [],
    ),
    (
        "balance, integer",
        "getBalance",
        lambda c: c.get_balance(),
        "ACCESS_BALANCE:3",
        Balance(Decimal(3), "USD"),
        [],
    ),
    (
        "balance, many decimals",
        "getBalance",
        lambda c: c.get_balance(),
        "ACCESS_BALANCE:3.1415",
        Balance(Decimal("3.1415"), "USD"),
        [],
    ),
    (
        "balance, bad key",
        "getBalance",
        lambda c: c.get_balance(),
        "BAD_KEY",
        Raises(AuthFailed, provider_code="BAD_KEY"),
        [],
    ),
    (
        "balance, sql",
        "getBalance",
        lambda c: c.get_balance(),
        "ERROR_SQL",
        Raises(UpstreamUnavailable),
        [],
    ),
    (
        "countries",
        "getCountries",
        lambda c: c.list_countries(),
        {
            "0": {
                "id": 0,
                "rus": "Россия",
                "eng": "Russia",
                "chn": "俄罗斯",
                "visible": 1,
                "retry": 1,
            },
            "187": {"id": 187, "rus": "США", "eng": "USA", "visible": 1},
        },
        [Country("0", "Russia"), Country("187", "USA")],
        [],
    ),
    (
        "services",
        "getServicesList",
        lambda c: c.list_services(),
        {
            "status": "success",
            "services": [{"code": "tg", "name": "Telegram"}, {"code": "wa", "name": "WhatsApp "}],
        },
        [Service("tg", "Telegram", "tg"), Service("wa", "WhatsApp", "wa")],
        [],
    ),
    (
        "services, bare list",
        "getServicesList",
        lambda c: c.list_services(),
        [{"code": "tg", "name": "Telegram"}],
        [Service("tg", "Telegram", "tg")],
        [],
    ),
    (
        "prices",
        "getPrices",
        lambda c: c.get_quotes(),
        {
            "0": {"tg": {"cost": 0.5, "count": 120}, "wa": {"cost": "1.25", "count": 0}},
            "187": {"tg": {"cost": 2, "count": 3}},
        },
        [
            Quote("tg", "0", Decimal("0.5"), "USD", stock=120),
            Quote("wa", "0", Decimal("1.25"), "USD", stock=0),
            Quote("tg", "187", Decimal(2), "USD", stock=3),
        ],
        [],
    ),
    (
        "numbers status",
        "getNumbersStatus",
        lambda c: c.number_counts("0"),
        {"tg_0": 76, "tg_1": 5, "wa_0": "12"},
        {"tg": 76, "wa": 12},
        [],
    ),
    (
        "number",
        "getNumber",
        buy,
        "ACCESS_NUMBER:123456:79991234567",
        that(
            lambda r: (
                len(r) == 1
                and (r[0].order_id, r[0].phone_number, r[0].cost) == ("123456", "79991234567", None)
                and timedelta(minutes=19)
                < r[0].expires_at - datetime.now(UTC)
                <= timedelta(minutes=20)
            )
        ),
        NO_V2,
    ),
    ("number: no numbers", "getNumber", buy, "NO_NUMBERS", Raises(OutOfStock), NO_V2),
    ("number: no balance", "getNumber", buy, "NO_BALANCE", Raises(InsufficientBalance), NO_V2),
    ("number: bad service", "getNumber", buy, "BAD_SERVICE", Raises(InvalidRequest), NO_V2),
    ("number: bad action", "getNumber", buy, "BAD_ACTION", Raises(InvalidRequest), NO_V2),
    ("number: bad key", "getNumber", buy, "BAD_KEY", Raises(AuthFailed), NO_V2),
    ("number: sql", "getNumber", buy, "ERROR_SQL", Raises(UpstreamUnavailable), NO_V2),
    (
        "number: banned",
        "getNumber",
        buy,
        "BANNED:'2099-1-12 13-45-01'",
        Raises(RateLimited, retry_after=lambda seconds: seconds > 3600 * 24 * 365),
        NO_V2,
    ),
    (
        "number: max price",
        "getNumber",
        buy,
        "WRONG_MAX_PRICE:0.35",
        Raises(PriceTooHigh, message=lambda m: "0.35" in m, details={"min_price": "0.35"}),
        NO_V2,
    ),
    ("number: bad country", "getNumber", buy, "BAD_COUNTRY", Raises(InvalidRequest), NO_V2),
    ("number: wrong country", "getNumber", buy, "WRONG_COUNTRY_ID", Raises(InvalidRequest), NO_V2),
    ("number: not available", "getNumber", buy, "NOT_AVAILABLE", Raises(OutOfStock), NO_V2),
    ("number: clone no means", "getNumber", buy, "NO_MEANS", Raises(InsufficientBalance), NO_V2),
    ("number: clone no money", "getNumber", buy, "NO_MONEY", Raises(InsufficientBalance), NO_V2),
    (
        "number: clone low balance",
        "getNumber",
        buy,
        "LOW_BALANCE",
        Raises(InsufficientBalance),
        NO_V2,
    ),
    ("number: clone no number", "getNumber", buy, "NO_NUMBER", Raises(OutOfStock), NO_V2),
    (
        "number v2",
        "getNumberV2",
        buy,
        V2_NUMBER,
        [
            Purchase(
                order_id="635468021",
                phone_number="79991234567",
                cost=Decimal("12.5"),
                currency="USD",
                expires_at=utc(2024, 1, 6, 18, 23, 15),
            )
        ],
        [],
    ),
    ("number v2: no numbers", "getNumberV2", buy, "NO_NUMBERS", Raises(OutOfStock), []),
    ("number v2: max price", "getNumberV2", buy, "WRONG_MAX_PRICE:1", Raises(PriceTooHigh), []),
    (
        "status: waiting",
        "getStatus",
        lambda c: c.get_order("1"),
        "STATUS_WAIT_CODE",
        OrderState("1", OrderStatus.WAITING, raw_status="STATUS_WAIT_CODE"),
        [],
    ),
    (
        "status: retry",
        "getStatus",
        lambda c: c.get_order("1"),
        "STATUS_WAIT_RETRY:123456",
        OrderState(
            "1", OrderStatus.RESEND_REQUESTED, raw_status="STATUS_WAIT_RETRY", code="123456"
        ),
        [],
    ),
    (
        "status: resend",
        "getStatus",
        lambda c: c.get_order("1"),
        "STATUS_WAIT_RESEND",
        OrderState("1", OrderStatus.RESEND_REQUESTED, raw_status="STATUS_WAIT_RESEND"),
        [],
    ),
    (
        "status: cancel",
        "getStatus",
        lambda c: c.get_order("1"),
        "STATUS_CANCEL",
        OrderState("1", OrderStatus.CANCELLED, raw_status="STATUS_CANCEL"),
        [],
    ),
    (
        # The code contains a colon: only the first one separates the token.
        "status: ok",
        "getStatus",
        lambda c: c.get_order("1"),
        "STATUS_OK:12:34",
        OrderState(
            "1", OrderStatus.RECEIVED, raw_status="STATUS_OK", code="12:34", full_text="Code: 12:34"
        ),
        [("getFullSms", "FULL_SMS:Code: 12:34")],
    ),
    (
        "status: no activation",
        "getStatus",
        lambda c: c.get_order("1"),
        "NO_ACTIVATION",
        Raises(NotFound),
        [],
    ),
    ("status: bad key", "getStatus", lambda c: c.get_order("1"), "BAD_KEY", Raises(AuthFailed), []),
    ("set 1: ready", "setStatus", lambda c: c.mark_ready("1"), "ACCESS_READY", None, []),
    (
        "set 3: retry",
        "setStatus",
        lambda c: c.resend("1"),
        "ACCESS_RETRY_GET",
        ResendResult("1", currency="USD"),
        [],
    ),
    ("set 6: finish", "setStatus", lambda c: c.finish("1"), "ACCESS_ACTIVATION", None, []),
    (
        "set 8: cancel",
        "setStatus",
        lambda c: c.cancel("1"),
        "ACCESS_CANCEL",
        CancelResult("1", currency="USD"),
        [],
    ),
    (
        "set: no activation",
        "setStatus",
        lambda c: c.cancel("1"),
        "NO_ACTIVATION",
        Raises(NotFound),
        [],
    ),
    (
        "set: early cancel",
        "setStatus",
        lambda c: c.cancel("1"),
        "EARLY_CANCEL_DENIED",
        Raises(CancelTooEarly, retry_after=30.0),
        [],
    ),
    (
        "set: sql",
        "setStatus",
        lambda c: c.finish("1"),
        "ERROR_SQL",
        Raises(UpstreamUnavailable),
        [],
    ),
    (
        "set: bad status",
        "setStatus",
        lambda c: c.resend("1"),
        "BAD_STATUS",
        Raises(InvalidRequest),
        [],
    ),
    (
        "active",
        "getActiveActivations",
        lambda c: c.list_active_orders(),
        {"status": "success", "activeActivations": [ACTIVE]},
        [ACTIVE_STATE],
        [],
    ),
    (
        "active: none",
        "getActiveActivations",
        lambda c: c.list_active_orders(),
        {"status": "error", "error": "NO_ACTIVATIONS"},
        [],
        [],
    ),
    (
        "active: clone data",
        "getActiveActivations",
        lambda c: c.list_active_orders(),
        {
            "status": "success",
            "data": [ACTIVE | {"smsCode": "123456", "smsText": "Your code is 123456"}],
        },
        [ACTIVE_STATE],
        [],
    ),
    (
        "rent offers",
        "getRentServicesAndCountries",
        lambda c: c.list_rental_offers(hours=4),
        {
            "countries": {"0": 0, "1": 187},
            "operators": {"0": "any", "1": "mts"},
            "services": {"full": {"cost": 42.93, "quant": 20}, "tg": {"cost": "21.95", "quant": 5}},
            "currency": 840,
        },
        [
            RentalOffer(
                "full",
                "full",
                {4: Decimal("42.93")},
                "USD",
                unit="hour",
                extendable=True,
                refundable=True,
                service_id="full",
                stock=20,
            ),
            RentalOffer(
                "tg",
                "tg",
                {4: Decimal("21.95")},
                "USD",
                unit="hour",
                extendable=True,
                refundable=True,
                service_id="tg",
                stock=5,
            ),
        ],
        [],
    ),
    (
        "rent",
        "getRentNumber",
        rent,
        RENT_PHONE,
        RentalPurchase(
            "1049", "79959707564", utc(2020, 1, 31, 12, 1, 52), None, "USD", duration=4, unit="hour"
        ),
        [],
    ),
    (
        "rent: no numbers",
        "getRentNumber",
        rent,
        {"status": "error", "message": "NO_NUMBERS"},
        Raises(OutOfStock),
        [],
    ),
    (
        "rent status",
        "getRentStatus",
        lambda c: c.list_rental_messages("1049"),
        RENT_STATUS,
        RENT_MESSAGES,
        [],
    ),
    (
        "rent status: waiting",
        "getRentStatus",
        lambda c: c.get_rental("1049"),
        "STATUS_WAIT_CODE",
        RentalState("1049", status="active"),
        [],
    ),
    (
        "rent status: waiting (json)",
        "getRentStatus",
        lambda c: c.list_rental_messages("1049"),
        {"status": "error", "message": "STATUS_WAIT_CODE"},
        [],
        [],
    ),
    (
        "rent status: cancel",
        "getRentStatus",
        lambda c: c.get_rental("1049"),
        "STATUS_CANCEL",
        RentalState("1049", status="cancelled"),
        [],
    ),
    (
        "rent status: finish",
        "getRentStatus",
        lambda c: c.get_rental("1049"),
        {"status": "error", "message": "STATUS_FINISH"},
        RentalState("1049", status="finished"),
        [],
    ),
    (
        "rent cancel",
        "setRentStatus",
        lambda c: c.refund_rental("1049"),
        {"status": "success"},
        RentalRefund("1049", currency="USD", message="The rental was cancelled."),
        [],
    ),
    (
        "rent cancel: too late",
        "setRentStatus",
        lambda c: c.refund_rental("1049"),
        {"status": "error", "message": "CANT_CANCEL"},
        Raises(InvalidRequest, message=lambda m: "20 minutes" in m, provider_code="CANT_CANCEL"),
        [],
    ),
    (
        "rent cancel: too late (text)",
        "setRentStatus",
        lambda c: c.refund_rental("1049"),
        "CANT_CANCEL",
        Raises(InvalidRequest),
        [],
    ),
    (
        "rent finish",
        "setRentStatus",
        lambda c: c.finish_rental("1049"),
        {"status": "success"},
        None,
        [],
    ),
    (
        "rent list",
        "getRentList",
        lambda c: c.list_rentals(),
        {
            "status": "success",
            "values": {
                "0": {"id": "1049", "phone": "79959707564"},
                "1": {"id": 1050, "phone": 79959707565},
            },
        },
        [
            RentalState("1049", phone_number="79959707564", status="active"),
            RentalState("1050", phone_number="79959707565", status="active"),
        ],
        [],
    ),
    (
        "rent list: none",
        "getRentList",
        lambda c: c.list_rentals(),
        {"status": "error", "message": "NO_NUMBERS"},
        [],
        [],
    ),
    (
        "rent extend",
        "continueRentNumber",
        lambda c: c.extend_rental("1049", 24),
        RENT_PHONE | {"phone": RENT_PHONE["phone"] | {"endDate": "2020-02-01T12:01:52"}},
        RentalState(
            "1049",
            phone_number="79959707564",
            expires_at=utc(2020, 2, 1, 12, 1, 52),
            status="active",
        ),
        [],
    ),
    (
        "rent extend: dead",
        "continueRentNumber",
        lambda c: c.extend_rental("1049", 24),
        {"status": "error", "message": "RENT_DIE"},
        Raises(InvalidRequest, message="The rental can no longer be extended."),
        [],
    ),
]


@pytest.mark.parametrize(
    ("action", "call", "body", "expected", "others"),
    [pytest.param(*case[1:], id=case[0]) for case in DOC_EXAMPLES],
)
def test_it_reads_every_answer_of_the_protocol(
    client, mocked, action, call, body, expected, others
):
    for other_action, other_body in others:
        reply(mocked, other_action, other_body)
    reply(mocked, action, body)
    expect_result(expected, lambda: call(client))


def test_it_exercises_every_token_the_protocol_names():
    answers = " ".join(
        [case[3] if isinstance(case[3], str) else json.dumps(case[3]) for case in DOC_EXAMPLES]
        + [body for case in DOC_EXAMPLES for _, body in case[5]]
    )
    for token in fixtures_docs.protocol_tokens():
        assert re.search(rf"(?<![A-Z_]){token}(?![A-Z_])", answers), token


# --- clones' error envelopes and broken answers -------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"title": "NO_NUMBERS", "details": "No numbers left"}, OutOfStock),
        (402, {"title": "NO_BALANCE", "details": "Top up"}, InsufficientBalance),
        (401, {"title": "BAD_KEY", "details": "Unknown key"}, AuthFailed),
        (404, {"title": "NO_ACTIVATION", "details": "?"}, NotFound),
        (400, {"title": "WRONG_MAX_PRICE:0.4", "details": "min 0.4"}, PriceTooHigh),
        (400, {"title": "SOMETHING_NEW", "details": "A new refusal"}, InvalidRequest),
        (403, "Forbidden", AuthFailed),
        (400, "NO_NUMBERS", OutOfStock),
        (400, "who knows", UpstreamUnavailable),
        (200, "<html><body>Bad gateway</body></html>", UpstreamUnavailable),
        (200, "", UpstreamUnavailable),
        (200, '{"status": "succ', UpstreamUnavailable),
        (200, "SOME_NEW_TOKEN", InvalidRequest),
    ],
)
def test_it_maps_error_envelopes_and_broken_answers(client, mocked, status, body, error):
    reply(mocked, "getNumberV2", body, status)
    with pytest.raises(error):
        buy(client)
    assert len(mocked.calls) == 1  # a purchase is never repeated


def test_it_keeps_the_details_of_an_unknown_json_error(client, mocked):
    reply(mocked, "getNumberV2", {"title": "SOMETHING_NEW", "details": "A <b>new</b> refusal"}, 400)
    with pytest.raises(InvalidRequest) as caught:
        buy(client)
    assert (caught.value.message, caught.value.provider_code) == ("A new refusal", "SOMETHING_NEW")


def test_it_estimates_a_ban_without_a_readable_end(client, mocked):
    reply(mocked, "getBalance", "BANNED:soon")
    with pytest.raises(RateLimited) as caught:
        client.get_balance()
    assert caught.value.retry_after == 60.0


# --- requests ---------------------------------------------------------------------------------


def test_it_sends_the_key_and_action_as_query_parameters(client, mocked):
    reply(mocked, "getBalance", "ACCESS_BALANCE:1")
    client.get_balance()
    [call] = mocked.calls
    assert call.request.method == "GET"
    assert query(call) == {"api_key": KEY, "action": "getBalance"}
    assert not call.request.body


def test_it_sends_operator_and_max_price(client, mocked):
    reply(mocked, "getNumberV2", V2_NUMBER)
    client.purchase(
        PurchaseRequest(
            service_id="tg", country_id="6", operator="tele2", max_price=Decimal("0.40")
        )
    )
    assert query(mocked.calls[0]) == {
        "api_key": KEY,
        "action": "getNumberV2",
        "service": "tg",
        "country": "6",
        "operator": "tele2",
        "maxPrice": "0.40",
    }


@pytest.mark.parametrize(
    "request_",
    [
        PurchaseRequest(service_id="tg", country_id="0", quantity=2),
        PurchaseRequest(service_id="tg", country_id="0", area_codes=("212",)),
        PurchaseRequest(service_id="tg", country_id="0", carrier="1"),
        PurchaseRequest(service_id="tg", country_id="0", pricing_option=PricingOption.CHEAPEST),
        PurchaseRequest(service_id="tg", country_id="0", activation_type=ActivationType.VOICE),
    ],
    ids=["quantity", "area codes", "carrier", "pricing option", "voice"],
)
def test_it_refuses_options_the_protocol_lacks_without_calling(client, mocked, request_):
    with pytest.raises(Unsupported):
        client.purchase(request_)
    assert not mocked.calls


def test_it_falls_back_to_get_number_when_v2_is_unknown(client, mocked):
    reply(mocked, "getNumberV2", "BAD_ACTION")
    reply(mocked, "getNumber", "ACCESS_NUMBER:42:14155552671")
    [purchase] = buy(client)
    assert (purchase.order_id, purchase.phone_number) == ("42", "14155552671")
    assert actions(mocked) == ["getNumberV2", "getNumber"]
    assert query(mocked.calls[1])["service"] == "tg"


def test_it_accepts_a_text_answer_to_get_number_v2(client, mocked):
    reply(mocked, "getNumberV2", "ACCESS_NUMBER:42:14155552671")
    assert buy(client)[0].order_id == "42"
    assert actions(mocked) == ["getNumberV2"]


def test_it_does_not_fall_back_after_a_real_refusal(client, mocked):
    reply(mocked, "getNumberV2", "NO_BALANCE")
    with pytest.raises(InsufficientBalance):
        buy(client)
    assert actions(mocked) == ["getNumberV2"]


@pytest.mark.parametrize(
    ("currency", "expected"),
    [(840, "USD"), ("643", "RUB"), ("eur", "EUR"), (None, "USD"), (999, "USD")],
)
def test_it_reads_the_purchase_currency(client, mocked, currency, expected):
    reply(mocked, "getNumberV2", V2_NUMBER | {"currency": currency})
    assert buy(client)[0].currency == expected


WRITE_ACTIONS = {
    "getNumberV2",
    "getNumber",
    "setStatus",
    "getRentNumber",
    "setRentStatus",
    "continueRentNumber",
}

# action -> (a public call that sends it, the answers it needs)
ACTIONS: dict[str, tuple[Callable[[SmsActivateClient], Any], dict[str, Any]]] = {
    "getBalance": (lambda c: c.get_balance(), {"getBalance": "ACCESS_BALANCE:1"}),
    "getCountries": (lambda c: c.list_countries(), {"getCountries": {}}),
    "getServicesList": (lambda c: c.list_services(), {"getServicesList": []}),
    "getPrices": (lambda c: c.get_quotes(), {"getPrices": {}}),
    "getNumbersStatus": (lambda c: c.number_counts(), {"getNumbersStatus": {}}),
    "getNumberV2": (buy, {"getNumberV2": V2_NUMBER}),
    "getNumber": (buy, {"getNumberV2": "BAD_ACTION", "getNumber": "ACCESS_NUMBER:1:2"}),
    "getStatus": (lambda c: c.get_order("1"), {"getStatus": "STATUS_WAIT_CODE"}),
    "getFullSms": (
        lambda c: c.get_order("1"),
        {"getStatus": "STATUS_OK:1", "getFullSms": "FULL_SMS:1"},
    ),
    "setStatus": (lambda c: c.cancel("1"), {"setStatus": "ACCESS_CANCEL"}),
    "getActiveActivations": (
        lambda c: c.list_active_orders(),
        {"getActiveActivations": {"status": "success", "activeActivations": []}},
    ),
    "getRentServicesAndCountries": (
        lambda c: c.list_rental_offers(),
        {"getRentServicesAndCountries": {"services": {}}},
    ),
    "getRentNumber": (rent, {"getRentNumber": RENT_PHONE}),
    "getRentStatus": (lambda c: c.get_rental("1"), {"getRentStatus": "STATUS_WAIT_CODE"}),
    "setRentStatus": (lambda c: c.refund_rental("1"), {"setRentStatus": {"status": "success"}}),
    "getRentList": (
        lambda c: c.list_rentals(),
        {"getRentList": {"status": "success", "values": []}},
    ),
    "continueRentNumber": (lambda c: c.extend_rental("1", 4), {"continueRentNumber": RENT_PHONE}),
}


class RecordingTransport(Transport):
    def __init__(self):
        super().__init__(label="smsactivate", secrets=(KEY,), budget=None, sleep=lambda s: None)
        self.calls = []

    def call(self, call, parse):
        self.calls.append(call)
        return super().call(call, parse)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_it_marks_only_reads_as_idempotent(mocked, action):
    run, answers = ACTIONS[action]
    transport = RecordingTransport()
    for answered, body in answers.items():
        reply(mocked, answered, body)
    run(SmsActivateClient(base_url=BASE, api_key=KEY, transport=transport))
    assert action in [call.params["action"] for call in transport.calls]
    for call in transport.calls:
        assert call.method == "GET"
        assert call.params["api_key"] == KEY
        assert call.idempotent is (call.params["action"] not in WRITE_ACTIONS)


# --- activations -------------------------------------------------------------------------------


def test_it_keeps_the_code_when_the_full_sms_is_unavailable(client, mocked):
    reply(mocked, "getStatus", "STATUS_OK:5555")
    reply(mocked, "getFullSms", "<html>busy</html>", 200)
    state = client.get_order("1")
    assert (state.status, state.code, state.full_text) == (OrderStatus.RECEIVED, "5555", "")


def test_it_fetches_the_full_sms_only_once_a_code_is_in(client, mocked):
    reply(mocked, "getStatus", "STATUS_WAIT_CODE")
    client.get_order("1")
    assert actions(mocked) == ["getStatus"]


def test_it_reports_an_unknown_status_word_as_unknown(client, mocked):
    reply(mocked, "getStatus", "STATUS_SOMETHING_NEW")
    assert client.get_order("1").status is OrderStatus.UNKNOWN


def test_it_retries_a_cancel_with_minus_one_on_clones_that_refuse_eight(client, mocked):
    reply(mocked, "setStatus", "BAD_STATUS", params={"status": "8"})
    reply(mocked, "setStatus", "ACCESS_CANCEL", params={"status": "-1"})
    assert client.cancel("7") == CancelResult("7", currency="USD")
    assert [query(c)["status"] for c in mocked.calls] == ["8", "-1"]


def test_it_does_not_retry_a_cancel_that_is_too_early(client, mocked):
    reply(mocked, "setStatus", "EARLY_CANCEL_DENIED")
    with pytest.raises(CancelTooEarly):
        client.cancel("7")
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"activationStatus": "1", "smsCode": None}, OrderStatus.WAITING, ""),
        ({"activationStatus": "1", "smsCode": []}, OrderStatus.WAITING, ""),
        ({"activationStatus": "2", "smsCode": ["111", "222"]}, OrderStatus.RECEIVED, "222"),
        ({"activationStatus": "3", "smsCode": ["111"]}, OrderStatus.RESEND_REQUESTED, "111"),
        ({"activationStatus": "6", "smsCode": "111"}, OrderStatus.COMPLETED, "111"),
        ({"activationStatus": "8", "smsCode": None}, OrderStatus.CANCELLED, ""),
    ],
)
def test_it_reads_active_activations(client, mocked, fields, status, code):
    reply(
        mocked,
        "getActiveActivations",
        {"status": "success", "activeActivations": [ACTIVE | fields]},
    )
    [state] = client.list_active_orders()
    assert (state.status, state.code) == (status, code)


def test_it_reads_an_active_list_keyed_by_index(client, mocked):
    reply(mocked, "getActiveActivations", {"status": "success", "activeActivations": {"0": ACTIVE}})
    assert client.list_active_orders() == [ACTIVE_STATE]


def test_it_raises_other_errors_of_the_active_list(client, mocked):
    reply(mocked, "getActiveActivations", {"status": "error", "error": "BAD_KEY"})
    with pytest.raises(AuthFailed):
        client.list_active_orders()


def test_it_fetches_the_catalog_in_three_requests(client, mocked):
    reply(mocked, "getCountries", {"0": {"id": 0, "eng": "Russia"}})
    reply(
        mocked,
        "getServicesList",
        {"status": "success", "services": [{"code": "tg", "name": "Telegram"}]},
    )
    reply(mocked, "getPrices", {"0": {"tg": {"cost": "0.5", "count": 1}}})
    catalog = client.fetch_catalog()
    assert catalog.countries == [Country("0", "Russia")]
    assert catalog.services == [Service("tg", "Telegram", "tg")]
    assert catalog.pools == []
    assert catalog.quotes == [Quote("tg", "0", Decimal("0.5"), "USD", stock=1)]
    assert catalog.prices_known and client.facts == {}
    assert len(mocked.calls) == 3


def test_it_reads_clone_price_tiers(client, mocked):
    reply(mocked, "getPrices", {"0": {"tg": {"0.50": 3, "0.75": "9"}}})
    assert client.get_quotes(service_id="tg", country_id="0") == [
        Quote("tg", "0", Decimal("0.50"), "USD", stock=3),
        Quote("tg", "0", Decimal("0.75"), "USD", stock=9),
    ]
    assert (query(mocked.calls[0])["service"], query(mocked.calls[0])["country"]) == ("tg", "0")


def test_it_raises_a_json_error_instead_of_an_empty_catalog(client, mocked):
    reply(mocked, "getPrices", {"status": "error", "error": "BAD_KEY"})
    with pytest.raises(AuthFailed):
        client.get_quotes()


# --- rentals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [0, 3, 1345])
def test_it_refuses_rental_lengths_outside_4_to_1344_hours(client, mocked, hours):
    with pytest.raises(InvalidRequest):
        client.rent(RentalRequest(offer_id="tg", duration=hours))
    assert not mocked.calls


def test_it_rents_the_offer_service_in_the_requested_country(client, mocked):
    reply(mocked, "getRentNumber", RENT_PHONE)
    client.rent(RentalRequest(offer_id="tg", duration=1344, country_id="187"))
    assert query(mocked.calls[0]) == {
        "api_key": KEY,
        "action": "getRentNumber",
        "service": "tg",
        "country": "187",
        "rent_time": "1344",
    }


def test_it_prices_rental_offers_for_the_asked_length_and_service(client, mocked):
    body = {"services": {"full": {"cost": 42.93, "quant": 20}, "tg": {"cost": 21.95, "quant": 5}}}
    reply(mocked, "getRentServicesAndCountries", body)
    [offer] = client.list_rental_offers(service_id="tg", country_id="187", hours=24)
    assert (offer.id, offer.durations) == ("tg", {24: Decimal("21.95")})
    assert query(mocked.calls[0])["rent_time"] == "24"
    assert query(mocked.calls[0])["country"] == "187"


def test_it_reads_rental_messages_as_a_list(client, mocked):
    reply(mocked, "getRentStatus", RENT_STATUS | {"values": list(RENT_STATUS["values"].values())})
    assert client.list_rental_messages("1049") == RENT_MESSAGES


def test_it_sends_the_rental_status_codes(client, mocked):
    reply(mocked, "setRentStatus", {"status": "success"})
    client.refund_rental("9")
    client.finish_rental("9")
    assert [(query(c)["id"], query(c)["status"]) for c in mocked.calls] == [("9", "2"), ("9", "1")]


def test_it_declares_its_capabilities():
    assert SmsActivateClient.capabilities == {
        Capability.BULK_ACTIVE,
        Capability.RESEND,
        Capability.FINISH,
        Capability.MAX_PRICE,
        Capability.OPERATOR,
        Capability.RENTALS,
        Capability.RENTAL_EXTEND,
        Capability.RENTAL_REFUND,
    }
    assert (SmsActivateClient.kind, SmsActivateClient.rate_limit) == ("smsactivate", (20, 1.0))
    assert SmsActivateClient.default_base_url == "https://api.sms-activate.ae/stubs/handler_api.php"


def test_it_talks_to_a_full_handler_url_as_given(mocked):
    stub = "https://api.smspool.net/stubs/handler_api"
    client = SmsActivateClient(
        base_url=stub, api_key=KEY, transport=Transport(label="t", budget=None)
    )
    mocked.add(responses.GET, stub, body="ACCESS_BALANCE:2")
    assert client.get_balance().amount == 2
    assert mocked.calls[0].request.url.startswith(stub + "?")


# --- malformed bodies ---------------------------------------------------------------------------

METHODS: dict[str, Callable[[SmsActivateClient], Any]] = {
    "get_balance": lambda c: c.get_balance(),
    "list_countries": lambda c: c.list_countries(),
    "list_services": lambda c: c.list_services("0"),
    "get_quotes": lambda c: c.get_quotes(),
    "number_counts": lambda c: c.number_counts("0"),
    "fetch_catalog": lambda c: c.fetch_catalog(),
    "list_pools": lambda c: c.list_pools(),
    "purchase": buy,
    "get_order": lambda c: c.get_order("1"),
    "list_active_orders": lambda c: c.list_active_orders(),
    "cancel": lambda c: c.cancel("1"),
    "resend": lambda c: c.resend("1"),
    "finish": lambda c: c.finish("1"),
    "mark_ready": lambda c: c.mark_ready("1"),
    "list_rental_offers": lambda c: c.list_rental_offers(),
    "rent": rent,
    "get_rental": lambda c: c.get_rental("1"),
    "list_rental_messages": lambda c: c.list_rental_messages("1"),
    "list_rentals": lambda c: c.list_rentals(),
    "extend_rental": lambda c: c.extend_rental("1", 4),
    "refund_rental": lambda c: c.refund_rental("1"),
    "finish_rental": lambda c: c.finish_rental("1"),
    "set_rental_auto_extend": lambda c: c.set_rental_auto_extend("1", True),
    "wake_rental": lambda c: c.wake_rental("1"),
}

MALFORMED_BODIES = {
    "html page": (200, "<!DOCTYPE html><html><body>502</body></html>"),
    "html 404": (404, "<html>Not Found</html>"),
    "empty body": (200, ""),
    "whitespace": (200, " \r\n"),
    "truncated json": (200, '{"status": "success", "activeActivations": [{"activationId": 1'),
    "json null": (200, "null"),
    "json number": (200, "42"),
    "json string": (200, '"ACCESS_BALANCE:1"'),
    "empty object": (200, "{}"),
    "empty list": (200, "[]"),
    "token without data": (200, "ACCESS_BALANCE:"),
    "number without phone": (200, "ACCESS_NUMBER:12"),
    "status ok empty": (200, "STATUS_OK:"),
    "bad amount": (200, "ACCESS_BALANCE:lots"),
    "plain words": (200, "hello world"),
    "status error without token": (200, '{"status": "error"}'),
    "wrong types": (
        200,
        json.dumps(
            {
                "status": "success",
                "activationId": ["x"],
                "phoneNumber": 7999.5,
                "activationCost": "cheap",
                "activeActivations": "none",
                "services": ["tg"],
                "phone": "79991234567",
                "values": 5,
                "0": {"tg": {"cost": "free", "count": "many"}},
                "tg_0": "lots",
            }
        ),
    ),
    "extra fields": (
        200,
        json.dumps(
            {
                "status": "success",
                "activationId": 1,
                "phoneNumber": "1",
                "activeActivations": [ACTIVE | {"surprise": {"a": [1]}}],
                "services": {"tg": {"cost": 1, "quant": 1, "new": True}},
                "phone": {"id": 1, "number": "1", "endDate": "2020-01-31T12:01:52", "extra": 1},
                "values": [],
                "new_field": [1, 2, 3],
            }
        ),
    ),
    "list of junk": (200, '[1, "a", null, [], {"code": null}, {"activationId": {}}]'),
    "huge numbers": (
        200,
        '{"activationId": 1e400, "activationCost": 1e999, "activationEndTime": 1e30}',
    ),
    "nan": (200, '{"activationId": NaN, "activationCost": Infinity}'),
    "ban with nonsense": (200, "BANNED:'9999-99-99 99-99-99'"),
    "max price without number": (200, "WRONG_MAX_PRICE:"),
    "429 text": (429, "slow down"),
    "503 page": (503, "<html>Service unavailable</html>"),
}


def test_it_fuzzes_every_public_method():
    public = {
        name
        for name in dir(SmsActivateClient)
        if not name.startswith("_") and callable(getattr(SmsActivateClient, name))
    }
    assert public - {"supports", "learn", "learn_missing", "recent_orders"} == set(METHODS)


def assert_within_taxonomy(run: Callable[[], Any]) -> None:
    try:
        run()
    except ProviderError as exc:
        assert type(exc) in ALL_ERRORS
        assert isinstance(exc.message, str) and exc.message


def test_it_turns_a_parser_bug_into_upstream_unavailable(client, mocked, monkeypatch):
    # No known answer reaches this net (the fuzz tests find none); it is the
    # last guarantee that a surprise never escapes as a Python error.
    def broken(answer, token):
        raise ValueError(f"invalid literal {KEY}")

    monkeypatch.setattr("providers.clients.smsactivate.token_data", broken)
    reply(mocked, "getBalance", "ACCESS_BALANCE:1")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.get_balance()
    assert "ValueError" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not leaks(caught.value)


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_it_raises_only_the_taxonomy_for_malformed_answers(mocked, method, body):
    status, text = body
    mocked.add(responses.GET, ANY_URL, body=text, status=status)
    assert_within_taxonomy(lambda: method(make_client()))


FIELDS = sorted(
    set(V2_NUMBER)
    | set(ACTIVE)
    | {"status", "error", "message", "title", "details", "services", "countries", "cost"}
    | {"count", "quant", "phone", "id", "number", "endDate", "values", "phoneFrom", "text"}
    | {"date", "eng", "code", "name", "data", "activeActivations", "0", "tg", "tg_0"}
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["success", "error", "NO_ACTIVATIONS", "STATUS_WAIT_CODE", "2024-01-06 18:03:15"]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=20,
)
text_answers = st.builds(
    lambda token, sep, data: token + sep + data,
    st.sampled_from(
        [
            *sorted(fixtures_docs.protocol_tokens()),
            *["NO_ACTIVATIONS", "STATUS_SOMETHING", "ACCESS", "", "<", "{"],
        ]
    ),
    st.sampled_from(["", ":", "::"]),
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(sorted(METHODS)),
    status=st.sampled_from([200, 200, 200, 400, 401, 404]),
    body=json_values.map(json.dumps) | text_answers,
)
def test_it_raises_only_the_taxonomy_for_any_answer(method, status, body):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, ANY_URL, body=body, status=status)
        assert_within_taxonomy(lambda: METHODS[method](make_client(max_attempts=1)))


# --- secrets ------------------------------------------------------------------------------------


def leaks(exc: BaseException) -> bool:
    text = "".join(traceback.format_exception(exc))
    parts = [text, str(exc), repr(exc)]
    if isinstance(exc, ProviderError):
        parts += [exc.message, repr(exc.field_errors), repr(exc.details), exc.provider_code]
    return any(KEY in part for part in parts)


ECHOING_ANSWERS = [
    (200, f"BAD_KEY:{KEY}"),
    (200, f"WRONG_MAX_PRICE:{KEY}"),
    (200, f"BANNED:{KEY}"),
    (200, f"SOMETHING_{KEY}"),
    (200, KEY),
    (200, json.dumps({"status": "error", "error": KEY, "message": KEY})),
    (400, json.dumps({"title": f"BAD_KEY:{KEY}", "details": f"key {KEY} unknown"})),
    (400, json.dumps({"title": KEY, "details": KEY})),
    (403, f"Forbidden for {KEY}"),
    (200, json.dumps({"activationId": KEY, "phoneNumber": KEY, "activationCost": KEY})),
    (503, KEY),
]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_it_never_shows_the_key_in_errors_or_logs(caplog, name):
    caplog.set_level(logging.DEBUG)
    method, client = METHODS[name], make_client()
    assert KEY not in repr(client) and KEY not in str(client)
    for status, text in ECHOING_ANSWERS:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.add(responses.GET, ANY_URL, body=text, status=status)
            try:
                method(client)
            except ProviderError as exc:
                assert not leaks(exc), (status, text)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.GET, ANY_URL, body=requests.ConnectionError(f"refused {BASE}?api_key={KEY}")
        )
        try:
            method(client)
        except ProviderError as exc:
            assert not leaks(exc)
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
    assert KEY not in caplog.text


@pytest.fixture
def local_handler():
    """A real HTTP server on localhost speaking just getBalance."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ACCESS_BALANCE:1.00"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/stubs/handler_api.php"
    server.shutdown()
    server.server_close()


def test_it_keeps_the_key_out_of_logs_over_real_http(caplog, local_handler):
    """With the project's logging settings (urllib3 at WARNING) nothing shows the key."""
    caplog.set_level(logging.DEBUG)
    client = SmsActivateClient(
        base_url=local_handler, api_key=KEY, transport=Transport(label="sa", budget=None)
    )
    assert client.get_balance() == Balance(Decimal("1.00"), "USD")
    assert KEY not in caplog.text


def test_it_keeps_the_key_out_of_urllib3_debug_logs(caplog, local_handler):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    client = SmsActivateClient(
        base_url=local_handler, api_key=KEY, transport=Transport(label="sa", budget=None)
    )
    client.get_balance()
    assert KEY not in caplog.text


# --- retries through the real Transport -------------------------------------------------------


def test_it_retries_a_read_after_a_503(client, mocked, sleeps):
    reply(mocked, "getBalance", "busy", 503)
    reply(mocked, "getBalance", "ACCESS_BALANCE:5")
    assert client.get_balance() == Balance(Decimal(5), "USD")
    assert len(mocked.calls) == 2
    assert len(sleeps) == 1


def test_it_does_not_retry_a_purchase_that_timed_out(client, mocked, sleeps):
    reply(mocked, "getNumberV2", requests.ReadTimeout("slow"))
    with pytest.raises(UpstreamUnavailable):
        buy(client)
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_it_does_not_retry_a_cancel_after_a_sql_error(client, mocked, sleeps):
    reply(mocked, "setStatus", "ERROR_SQL")
    with pytest.raises(UpstreamUnavailable):
        client.cancel("1")
    assert len(mocked.calls) == 1


def test_it_honours_retry_after_on_429(client, mocked, sleeps):
    reply(mocked, "getNumberV2", "", 429, headers={"Retry-After": "2"})
    reply(mocked, "getNumberV2", V2_NUMBER)
    assert buy(client)[0].order_id == "635468021"
    assert sleeps == [2.0]
    assert len(mocked.calls) == 2


def test_it_waits_out_a_short_ban(client, mocked, sleeps):
    soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%d %H-%M-%S")
    reply(mocked, "getBalance", f"BANNED:'{soon}'")
    reply(mocked, "getBalance", "ACCESS_BALANCE:1")
    assert client.get_balance().amount == 1
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 3


def test_it_prices_a_table_of_standard_lengths_with_one_request_each(client, mocked):
    for cost in ("1.00", "4.00", "9.00", "20.00"):
        reply(mocked, "getRentServicesAndCountries", {"services": {"tg": {"cost": cost}}})
    [offer] = client.list_rental_offers()
    assert offer.durations == {
        4: Decimal("1.00"),
        24: Decimal("4.00"),
        72: Decimal("9.00"),
        168: Decimal("20.00"),
    }
    assert len(mocked.calls) == 4


# --- hosts without some actions (BAD_ACTION), learned once per account ---------------------------

STANDARD_US = Country("187", "United States", iso="US", dial_code="1")
STANDARD_UK = Country("16", "United Kingdom", iso="GB", dial_code="44")


def learning_client(facts: dict | None = None) -> tuple[SmsActivateClient, list[dict]]:
    """A client with the account's facts, and the list of what it passes to on_learn."""
    learned: list[dict] = []
    client = SmsActivateClient(
        base_url=BASE,
        api_key=KEY,
        transport=Transport(label="smsactivate", secrets=(KEY,), budget=None),
        facts=facts,
        on_learn=learned.append,
    )
    return client, learned


def raises_unsupported(run: Callable[[], Any]) -> str:
    with pytest.raises(Unsupported) as caught:
        run()
    return caught.value.category


# action -> (a call that needs it, what the call returns without it, other answers, facts)
OPTIONAL_ACTIONS: dict[str, tuple[Callable[[SmsActivateClient], Any], Callable, dict, dict]] = {
    "getCountries": (
        lambda c: c.list_countries(),
        that(lambda r: len(r) == 200 and STANDARD_US in r and STANDARD_UK in r),
        {},
        {"bad_actions": ["getCountries"]},
    ),
    "getServicesList": (
        lambda c: c.list_services("187"),
        that(
            lambda r: Service("wa", "WhatsApp", "wa") in r and Service("ot", "Any other", "ot") in r
        ),
        {},
        {"bad_actions": ["getServicesList"]},
    ),
    "getPrices": (lambda c: c.get_quotes(service_id="wa"), [], {}, {"bad_actions": ["getPrices"]}),
    "getNumbersStatus": (
        lambda c: raises_unsupported(lambda: c.number_counts("187")),
        "unsupported",
        {},
        {"bad_actions": ["getNumbersStatus"]},
    ),
    "getActiveActivations": (
        lambda c: raises_unsupported(c.list_active_orders),
        "unsupported",
        {},
        {"missing": ["bulk_active"]},
    ),
    "getNumberV2": (
        buy,
        that(lambda r: (r[0].order_id, r[0].cost) == ("42", None)),
        {"getNumber": "ACCESS_NUMBER:42:14155552671"},
        {"bad_actions": ["getNumberV2"]},
    ),
    "getFullSms": (
        lambda c: c.get_order("7"),
        OrderState("7", OrderStatus.RECEIVED, raw_status="STATUS_OK", code="1234"),
        {"getStatus": "STATUS_OK:1234"},
        {"bad_actions": ["getFullSms"]},
    ),
    "getRentServicesAndCountries": (
        lambda c: raises_unsupported(lambda: c.list_rental_offers(hours=4)),
        "unsupported",
        {},
        {"missing": ["rentals"]},
    ),
    "getRentList": (
        lambda c: raises_unsupported(c.list_rentals),
        "unsupported",
        {},
        {"bad_actions": ["getRentList"]},
    ),
}


@pytest.mark.parametrize(
    "answer", [(200, "BAD_ACTION"), (200, "WRONG_ACTION"), (404, "BAD_ACTION")], ids=str
)
@pytest.mark.parametrize("action", sorted(OPTIONAL_ACTIONS))
def test_it_does_without_an_action_the_host_lacks_and_learns_it_once(mocked, action, answer):
    call, expected, others, facts = OPTIONAL_ACTIONS[action]
    status, body = answer
    reply(mocked, action, body, status)
    for other, other_body in others.items():
        reply(mocked, other, other_body)
    client, learned = learning_client()
    expect_result(expected, lambda: call(client))
    assert learned == [facts] and client.facts == facts

    # The same client, and the next one built from the stored facts, never ask again.
    asked = actions(mocked).count(action)
    expect_result(expected, lambda: call(client))
    again, learned_again = learning_client(learned[-1])
    expect_result(expected, lambda: call(again))
    assert actions(mocked).count(action) == asked == 1
    assert len(learned) == 1 and learned_again == []


def test_it_forgets_nothing_already_learned(mocked):
    reply(mocked, "getPrices", "BAD_ACTION")
    client, learned = learning_client({"missing": ["bulk_active"], "bad_actions": ["getFullSms"]})
    assert client.get_quotes() == []
    assert learned == [{"missing": ["bulk_active"], "bad_actions": ["getFullSms", "getPrices"]}]
    assert not client.supports(Capability.BULK_ACTIVE) and client.supports(Capability.RESEND)


def test_it_reads_the_whole_catalogue_of_a_host_without_one(mocked):
    for action in ("getCountries", "getServicesList", "getPrices"):
        reply(mocked, action, "BAD_ACTION")
    client, learned = learning_client()
    catalog = client.fetch_catalog()
    assert STANDARD_US in catalog.countries and len(catalog.services) > 100
    assert catalog.quotes == [] and catalog.prices_known is False
    assert learned[-1] == {"bad_actions": ["getCountries", "getPrices", "getServicesList"]}
    assert client.fetch_catalog() == catalog
    assert len(mocked.calls) == 3  # the second catalogue cost no request


def test_it_knows_prices_where_only_the_lists_are_missing(mocked):
    reply(mocked, "getCountries", "BAD_ACTION")
    reply(mocked, "getServicesList", "BAD_ACTION")
    reply(mocked, "getPrices", {"187": {"wa": {"cost": "0.50", "count": 9}}})
    catalog = learning_client()[0].fetch_catalog()
    assert catalog.prices_known
    assert catalog.quotes == [Quote("wa", "187", Decimal("0.50"), "USD", stock=9)]


def test_it_buys_straight_with_get_number_once_v2_is_known_missing(mocked):
    reply(mocked, "getNumber", "ACCESS_NUMBER:42:14155552671")
    client, learned = learning_client({"bad_actions": ["getNumberV2"]})
    [purchase] = buy(client)
    assert purchase.cost is None and actions(mocked) == ["getNumber"] and learned == []


@pytest.mark.parametrize(
    ("action", "call", "others"),
    [
        ("getBalance", lambda c: c.get_balance(), {}),
        ("getStatus", lambda c: c.get_order("1"), {}),
        ("setStatus", lambda c: c.cancel("1"), {}),
        ("getNumber", buy, {"getNumberV2": "BAD_ACTION"}),
        ("getRentNumber", rent, {}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_it_raises_bad_action_for_the_core_actions_without_learning_them(
    mocked, action, call, others
):
    # Without these there is nothing to do without: a wrong URL or a broken host.
    reply(mocked, action, "BAD_ACTION")
    for other, body in others.items():
        reply(mocked, other, body)
    client, learned = learning_client()
    with pytest.raises(InvalidRequest) as caught:
        call(client)
    assert caught.value.provider_code == "BAD_ACTION"
    assert action not in client.facts.get("bad_actions", []) and "missing" not in client.facts
    assert learned == ([client.facts] if client.facts else [])


def test_it_does_not_learn_from_other_failures(mocked):
    reply(mocked, "getCountries", "ERROR_SQL")
    reply(mocked, "getActiveActivations", {"status": "error", "error": "BAD_KEY"})
    client, learned = learning_client()
    with pytest.raises(UpstreamUnavailable):
        client.list_countries()
    with pytest.raises(AuthFailed):
        client.list_active_orders()
    assert learned == [] and client.supports(Capability.BULK_ACTIVE)


def test_it_reads_unusable_facts_as_none(mocked):
    reply(mocked, "getNumberV2", V2_NUMBER)
    client, _learned = learning_client({"bad_actions": "getNumberV2", "missing": []})
    assert buy(client)[0].cost == Decimal("12.5")


def test_the_standard_numbering_covers_the_sandbox_catalogue():
    from providers.sandbox import catalog as sandbox

    countries = {c.id: c for c in standard_countries()}
    services = {s.id: s.name for s in standard_services()}
    assert set(countries) == {str(n) for n in range(200)}
    assert all(
        re.fullmatch(r"[A-Z]{2}", c.iso) and c.dial_code.isdigit() for c in countries.values()
    )
    for country in sandbox.COUNTRIES:
        if country.smsactivate_id is not None:
            found = countries[str(country.smsactivate_id)]
            assert (found.iso, found.dial_code) == (country.iso, country.dial), country
    for service in sandbox.SERVICES:
        if service.smsactivate_code:
            assert services[service.smsactivate_code] == service.name, service
    assert countries["12"].iso == "US"  # the virtual range is still the US
