"""SmsCodeClient against the sandbox over real HTTP: every operation, the books after each."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from providers.clients.smscode import SmsCodeClient
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    Unsupported,
)
from providers.sandbox import catalog
from providers.types import Capability, OrderStatus, PurchaseRequest, RentalRequest

P = "smscode"
INDONESIA, WHATSAPP = "6", "1"  # SMSCode country and platform ids
WA_ID = PurchaseRequest(service_id=WHATSAPP, country_id=INDONESIA)
START = Decimal(1_600_000)  # IDR
FX = 16000


@pytest.fixture
def client(upstream):
    return upstream.client(P)


def buy(client, request=WA_ID):
    (purchase,) = client.purchase(request)
    return purchase


def test_it_fetches_the_catalog(client):
    catalog = client.fetch_catalog()
    countries = {c.id: c for c in catalog.countries}
    assert (countries[INDONESIA].iso, countries[INDONESIA].dial_code) == ("ID", "62")
    assert all(c.iso for c in catalog.countries)
    services = {s.id: s for s in catalog.services}
    assert (services[WHATSAPP].name, services[WHATSAPP].code) == ("WhatsApp", "whatsapp")
    quotes = [q for q in catalog.quotes if (q.service_id, q.country_id) == (WHATSAPP, INDONESIA)]
    assert quotes and all(q.price > 0 and q.currency == "IDR" and q.product_id for q in quotes)
    assert all(q.stock and q.stock > 0 for q in quotes)
    products = client.list_products(country_id=INDONESIA, service_id=WHATSAPP)
    assert [p.price for p in products] == sorted(q.price for q in quotes)
    assert any(p.catalog_product_id == "10601" for p in products)


def test_it_reads_the_balance_in_idr_and_usd(upstream, client):
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (START, "IDR")
    usd = upstream.client(P, client.api_key, currency="USD").get_balance()
    assert (usd.amount, usd.currency) == (START / FX, "USD")
    upstream.assert_books(P, client.api_key, reported=balance.amount)


def test_it_buys_and_reads_the_code_from_the_order_and_the_active_list(upstream, client):
    purchase = buy(client)
    cheapest = client.list_products(country_id=INDONESIA, service_id=WHATSAPP)[0]
    assert purchase.cost == cheapest.price and purchase.currency == "IDR"
    assert purchase.phone_number.startswith("62")
    assert purchase.expires_at == upstream.expires_at(P, client.api_key, purchase.order_id)
    order = upstream.order(P, client.api_key, purchase.order_id)
    assert purchase.cancel_available_at == datetime.fromtimestamp(int(order.cancel_after), UTC)
    assert upstream.charged(P, client.api_key, purchase.order_id) == purchase.cost

    waiting = client.get_order(purchase.order_id)
    assert (waiting.status, waiting.sms_revision) == (OrderStatus.WAITING, 0)

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 482-913")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code, state.sms_revision) == (OrderStatus.RECEIVED, "482913", 1)
    assert state.raw_status == "OTP_RECEIVED" and state.cost == purchase.cost
    (listed,) = client.list_active_orders()
    assert (listed.order_id, listed.code, listed.status) == (
        purchase.order_id,
        "482913",
        OrderStatus.RECEIVED,
    )

    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books(P, client.api_key, charges=[purchase.cost], reported=balance)


def test_it_buys_in_usd_on_v2_over_the_idr_ledger(upstream):
    client = upstream.client(P, currency="USD")
    purchase = buy(client)
    assert purchase.currency == "USD"
    charged = upstream.charged(P, client.api_key, purchase.order_id)  # IDR
    assert purchase.cost == (charged / FX).quantize(Decimal("0.0001"))
    upstream.advance(31)
    result = client.cancel(purchase.order_id)
    assert result.refunded == purchase.cost and result.currency == "USD"
    assert client.get_balance().amount == Decimal("100.00")
    upstream.assert_books(P, client.api_key, charges=[charged], refunds=[charged])


def test_it_resends_on_the_same_order_and_the_revision_grows(upstream, client):
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 111-222")
    first = client.get_order(purchase.order_id)
    assert (first.code, first.sms_revision, first.can_resend) == ("111222", 1, True)

    resent = client.resend(purchase.order_id)
    assert resent.order_id == purchase.order_id
    waiting = client.get_order(purchase.order_id)
    assert waiting.raw_status == "ACTIVE" and waiting.sms_revision == 1
    assert waiting.can_resend is False  # the cooldown
    with pytest.raises(InvalidRequest):
        client.resend(purchase.order_id)

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 333-444")
    second = client.get_order(purchase.order_id)
    assert (second.code, second.sms_revision) == ("333444", 2)
    (listed,) = client.list_active_orders()
    assert (listed.code, listed.sms_revision) == ("333444", 2)
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_finishes_an_order_with_a_code(upstream, client):
    assert client.supports(Capability.FINISH)
    purchase = buy(client)
    with pytest.raises(InvalidRequest):  # nothing to finish before an SMS
        client.finish(purchase.order_id)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 123-456")
    client.finish(purchase.order_id)
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.COMPLETED, "123456")
    assert client.list_active_orders() == []
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_cancels_after_the_lock_and_is_refunded(upstream, client):
    purchase = buy(client)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    # From details.cancel_available_at: the 30 s lock, give or take a second.
    assert early.value.retry_after is not None and 25 <= early.value.retry_after <= 31

    upstream.advance(31)
    result = client.cancel(purchase.order_id)
    assert result.refunded == purchase.cost and result.status is OrderStatus.CANCELLED
    assert upstream.refunded(P, client.api_key, purchase.order_id) == result.refunded
    assert client.get_order(purchase.order_id).status is OrderStatus.CANCELLED

    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[result.refunded], reported=balance
    )


def test_it_refuses_to_cancel_once_a_code_arrived(upstream, client):
    purchase = buy(client)
    upstream.advance(31)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 555-666")
    with pytest.raises(InvalidRequest) as caught:
        client.cancel(purchase.order_id)
    assert caught.value.provider_code == "CONFLICT"
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_reports_an_expired_order_and_refunds_it(upstream, client):
    purchase = buy(client)
    upstream.advance(1201)
    state = client.get_order(purchase.order_id)
    assert state.status is OrderStatus.EXPIRED and state.status.is_final
    assert state.expires_at is not None and state.expires_at <= datetime.now(UTC) + timedelta(
        seconds=1200
    )
    assert client.list_active_orders() == []
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )


def test_it_closes_an_expired_order_with_a_code_without_refund(upstream, client):
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 777-888")
    upstream.advance(1201)
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.COMPLETED, "777888")
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_has_no_rentals(client):
    assert not client.supports(Capability.RENTALS)
    with pytest.raises(Unsupported):
        client.rent(RentalRequest(offer_id="x", duration=1))


# --- errors -------------------------------------------------------------------------------------
def test_it_maps_out_of_stock(make_upstream):
    upstream = make_upstream(out_of_stock={P: ["ID"]})
    client = upstream.client(P)
    with pytest.raises(OutOfStock):  # nothing listed: the client does not even try
        client.purchase(WA_ID)
    # An exact product bought blind: the server's NO_OFFER_AVAILABLE.
    tier = str(catalog.offer(P, "whatsapp", "ID").tiers[0].product_id)
    with pytest.raises(OutOfStock) as caught:
        client.purchase(PurchaseRequest(service_id="", country_id="", product_id=tier))
    assert caught.value.provider_code == "NO_OFFER_AVAILABLE"
    (india,) = client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id="22"))
    assert india.cost == client.list_products(country_id="22", service_id=WHATSAPP)[0].price
    upstream.assert_books(P, client.api_key, charges=[india.cost])


def test_it_maps_insufficient_balance(upstream, client):
    client.get_balance()
    upstream.set_balance(P, client.api_key, "1")
    with pytest.raises(InsufficientBalance):
        client.purchase(WA_ID)
    assert client.get_balance().amount == Decimal(1)
    upstream.assert_books(P, client.api_key)


def test_it_maps_a_bad_key(upstream):
    client = upstream.client(P, "live_not_a_sandbox_key")
    with pytest.raises(AuthFailed):
        client.get_balance()
    with pytest.raises(AuthFailed):
        client.purchase(PurchaseRequest(service_id="", country_id="", product_id="1"))
    with pytest.raises(AuthFailed):  # the routed purchase fails on its catalog read
        client.purchase(WA_ID)


def test_it_maps_an_unknown_order_to_not_found(client):
    with pytest.raises(NotFound):
        client.get_order("4999999")
    with pytest.raises(NotFound):
        client.cancel("4999999")


def test_it_maps_429_and_recovers_after_retry_after(make_upstream):
    upstream = make_upstream(rate_limits={P: [3, 2]})
    client = upstream.client(P)
    done, limited = upstream.until_rate_limited(client.get_balance)
    assert done >= 3 and limited.retry_after == 2  # what is left of the 2 s window
    assert limited.provider_code == "RATE_LIMIT_EXCEEDED"
    # With retries the Transport sleeps the Retry-After (for real) and gets through.
    slept: list[float] = []
    patient = upstream.client(
        P, client.api_key, max_attempts=3, sleep=lambda s: (slept.append(s), time.sleep(s))
    )
    assert patient.get_balance().amount == START
    assert slept == [2.0]
    stats = upstream.control("GET", "/stats")["requests"][P][client.api_key]["/balance"]
    assert stats["rate_limited"] == 2 and stats["requests"] - stats["rate_limited"] == done + 1


def test_it_learns_the_sdk_dialect_once_and_remembers_it(upstream):
    learned: list[dict] = []
    first = SmsCodeClient(
        base_url=upstream.base_url(P),
        api_key=upstream.key(P),
        transport=upstream.client(P).transport,
        on_learn=learned.append,
    )
    first.fetch_catalog()
    assert learned == [{"dialect": "sdk"}]  # from the countries rows: no extra request
    assert upstream.requests_made(P, first.api_key) == 3
    second = SmsCodeClient(
        base_url=upstream.base_url(P),
        api_key=first.api_key,
        transport=first.transport,
        facts=learned[-1],
        on_learn=learned.append,
    )
    purchase = buy(second)
    assert second.list_active_orders()[0].order_id == purchase.order_id
    assert learned == [{"dialect": "sdk"}]
    assert upstream.requests_made(P, first.api_key, "POST /orders") == 0  # no guide form tried
