"""SmsActivateClient against the sandbox over real HTTP: every operation, the books after each."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest

from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    Unsupported,
)
from providers.types import Capability, OrderStatus, PurchaseRequest, RentalRequest

P = "smsactivate"
USA, ENGLAND, WHATSAPP = "187", "16", "wa"
WA_US = PurchaseRequest(service_id=WHATSAPP, country_id=USA)
START = Decimal("100.00")


@pytest.fixture
def client(upstream):
    return upstream.client(P)


def buy(client):
    (purchase,) = client.purchase(WA_US)
    return purchase


def test_it_fetches_the_catalog(client):
    catalog = client.fetch_catalog()
    countries = {c.id: c.name for c in catalog.countries}
    assert countries["0"] == "Russia" and countries[ENGLAND] and countries[USA]
    services = {s.id: s for s in catalog.services}
    assert (services[WHATSAPP].name, services["tg"].name) == ("WhatsApp", "Telegram")
    quotes = [q for q in catalog.quotes if (q.service_id, q.country_id) == (WHATSAPP, USA)]
    (quote,) = quotes
    assert quote.price > 0 and quote.currency == "USD" and quote.stock
    assert client.get_quotes(service_id=WHATSAPP, country_id=USA) == [quote]
    assert client.number_counts(USA)[WHATSAPP] == quote.stock


def test_it_reads_the_balance(upstream, client):
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (START, "USD")
    upstream.assert_books(P, client.api_key, reported=balance.amount)


def test_it_buys_and_reads_the_code_from_get_status_and_the_active_list(upstream, client):
    quote = client.get_quotes(service_id=WHATSAPP, country_id=USA)[0]
    purchase = buy(client)
    assert purchase.cost == quote.price and purchase.currency == "USD"  # 840 → USD
    assert purchase.phone_number.startswith("1")
    assert purchase.expires_at == upstream.expires_at(P, client.api_key, purchase.order_id)
    assert upstream.charged(P, client.api_key, purchase.order_id) == purchase.cost
    assert client.get_order(purchase.order_id).status is OrderStatus.WAITING
    (waiting,) = client.list_active_orders()
    assert (waiting.order_id, waiting.status, waiting.code) == (
        purchase.order_id,
        OrderStatus.WAITING,
        "",
    )

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 482-913")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "482913")
    assert state.full_text == "Your WhatsApp code is 482-913"  # getFullSms
    (listed,) = client.list_active_orders()
    assert (listed.status, listed.code) == (OrderStatus.RECEIVED, "482913")
    assert listed.cost == purchase.cost and listed.expires_at == purchase.expires_at

    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books(P, client.api_key, charges=[purchase.cost], reported=balance)


def test_it_resends_on_the_same_id_waits_for_a_retry_then_gets_the_new_code(upstream, client):
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 111-222")
    assert client.get_order(purchase.order_id).code == "111222"

    resent = client.resend(purchase.order_id)
    assert resent.order_id == purchase.order_id
    retry = client.get_order(purchase.order_id)
    assert (retry.status, retry.raw_status) == (OrderStatus.RESEND_REQUESTED, "STATUS_WAIT_RETRY")
    (listed,) = client.list_active_orders()
    assert listed.status is OrderStatus.RESEND_REQUESTED

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 333-444")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "333444")
    (listed,) = client.list_active_orders()
    assert listed.code == "333444"  # the latest of smsCode's list
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_finishes_an_order_with_a_code(upstream, client):
    assert client.supports(Capability.FINISH)
    purchase = buy(client)
    with pytest.raises(InvalidRequest):  # BAD_STATUS before a code
        client.finish(purchase.order_id)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 123-456")
    client.finish(purchase.order_id)
    assert client.list_active_orders() == []
    assert client.get_order(purchase.order_id).code == "123456"
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_cancels_after_the_lock_and_is_refunded(upstream, client):
    purchase = buy(client)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    assert early.value.provider_code == "EARLY_CANCEL_DENIED"
    assert early.value.retry_after is not None and 0 < early.value.retry_after <= 60

    upstream.advance(31)
    result = client.cancel(purchase.order_id)
    assert result.status is OrderStatus.CANCELLED
    assert upstream.refunded(P, client.api_key, purchase.order_id) == purchase.cost
    assert client.get_order(purchase.order_id).status is OrderStatus.CANCELLED
    assert client.list_active_orders() == []  # NO_ACTIVATIONS reads as an empty list
    client.cancel(purchase.order_id)  # ACCESS_CANCEL again, and no second refund

    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )


def test_it_refuses_to_cancel_once_a_code_arrived(upstream, client):
    purchase = buy(client)
    upstream.advance(31)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 555-666")
    with pytest.raises(InvalidRequest):
        client.cancel(purchase.order_id)
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_reports_an_expired_order_cancelled_and_refunded(upstream, client):
    purchase = buy(client)
    upstream.advance(1201)
    state = client.get_order(purchase.order_id)
    assert state.status is OrderStatus.CANCELLED and state.status.is_final
    assert client.list_active_orders() == []
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )


# --- rentals ----------------------------------------------------------------------------------
def rent_whatsapp(client, hours=4):
    return client.rent(RentalRequest(offer_id=WHATSAPP, duration=hours, country_id=USA))


def test_it_rents_by_the_hour_reads_messages_and_extends(upstream, client):
    offers = {o.id: o for o in client.list_rental_offers(country_id=USA, hours=4)}
    offer = offers[WHATSAPP]
    assert offer.unit == "hour" and offer.extendable and offer.refundable and offer.stock

    rental = rent_whatsapp(client)
    assert (rental.duration, rental.unit) == (4, "hour") and rental.phone_number.startswith("1")
    assert upstream.charged(P, client.api_key, rental.rental_id) == offer.durations[4]
    (listed,) = client.list_rentals()
    assert listed.rental_id == rental.rental_id and listed.expires_at == rental.expires_at

    assert client.get_rental(rental.rental_id).status == "active"
    assert client.list_rental_messages(rental.rental_id) == []  # STATUS_WAIT_CODE
    upstream.rental_message(P, client.api_key, rental.rental_id, "Your WhatsApp code is 24-68-0")
    upstream.rental_message(P, client.api_key, rental.rental_id, "Your WhatsApp code is 135-790")
    messages = client.list_rental_messages(rental.rental_id)
    assert {m.text for m in messages} == {
        "Your WhatsApp code is 24-68-0",
        "Your WhatsApp code is 135-790",
    }
    assert all(m.sender == "WhatsApp" and m.received_at for m in messages)

    extended = client.extend_rental(rental.rental_id, 4)
    assert extended.expires_at == rental.expires_at + timedelta(hours=4)
    balance = client.get_balance().amount
    assert balance == START - 2 * offer.durations[4]
    upstream.assert_books(P, client.api_key, charges=[offer.durations[4]] * 2, reported=balance)


def test_it_refunds_a_rental_in_the_first_20_minutes_only(upstream, client):
    early = rent_whatsapp(client)
    late = rent_whatsapp(client)
    price = upstream.charged(P, client.api_key, early.rental_id)

    refund = client.refund_rental(early.rental_id)
    assert refund.rental_id == early.rental_id
    assert client.get_rental(early.rental_id).status == "cancelled"
    assert upstream.refunded(P, client.api_key, early.rental_id) == price

    upstream.advance(20 * 60 + 1)
    with pytest.raises(InvalidRequest) as caught:
        client.refund_rental(late.rental_id)
    assert caught.value.provider_code == "CANT_CANCEL"
    assert client.get_rental(late.rental_id).status == "active"
    assert [r.rental_id for r in client.list_rentals()] == [late.rental_id]

    balance = client.get_balance().amount
    assert balance == START - price
    upstream.assert_books(
        P, client.api_key, charges=[price, price], refunds=[price], reported=balance
    )


# --- errors -------------------------------------------------------------------------------------
def test_it_maps_out_of_stock(make_upstream):
    upstream = make_upstream(out_of_stock={P: ["US"]})
    client = upstream.client(P)
    with pytest.raises(OutOfStock):
        client.purchase(WA_US)
    (england,) = client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id=ENGLAND))
    upstream.assert_books(P, client.api_key, charges=[england.cost])


def test_it_maps_insufficient_balance(upstream, client):
    client.get_balance()
    upstream.set_balance(P, client.api_key, "0.01")
    with pytest.raises(InsufficientBalance):
        client.purchase(WA_US)
    with pytest.raises(InsufficientBalance):
        rent_whatsapp(client)
    assert client.get_balance().amount == Decimal("0.01")
    upstream.assert_books(P, client.api_key)


def test_it_maps_a_bad_key(upstream):
    client = upstream.client(P, "live_not_a_sandbox_key")
    with pytest.raises(AuthFailed):
        client.get_balance()
    with pytest.raises(AuthFailed):
        client.purchase(WA_US)


def test_it_maps_an_unknown_order_to_not_found(client):
    with pytest.raises(NotFound):
        client.get_order("1")
    with pytest.raises(NotFound):
        client.cancel("1")


def test_it_maps_429_and_recovers_after_retry_after(make_upstream):
    upstream = make_upstream(rate_limits={P: [3, 2]})
    client = upstream.client(P)
    done, limited = upstream.until_rate_limited(client.get_balance)
    assert done >= 3 and limited.retry_after == 2  # what is left of the 2 s window
    # With retries the Transport sleeps the Retry-After (for real) and gets through.
    slept: list[float] = []
    patient = upstream.client(
        P, client.api_key, max_attempts=3, sleep=lambda s: (slept.append(s), time.sleep(s))
    )
    assert patient.get_balance().amount == START
    assert slept == [2.0]
    stats = upstream.control("GET", "/stats")["requests"][P][client.api_key]["getBalance"]
    assert stats["rate_limited"] == 2 and stats["requests"] - stats["rate_limited"] == done + 1


# --- SMSPool's SMS-Activate stub ------------------------------------------------------------------
def test_it_trades_through_smspools_stub_on_the_smspool_account(upstream):
    key = upstream.key("stub")
    client = upstream.client(P, key)
    client.base_url = upstream.server.url("smspool") + "/stubs/handler_api"
    assert client.get_balance().amount == START
    (purchase,) = client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id=ENGLAND))
    assert purchase.cost and purchase.phone_number.startswith("44")
    upstream.deliver("smspool", key, purchase.order_id, "Your WhatsApp code is 246-810")
    assert client.get_order(purchase.order_id).code == "246810"
    (listed,) = client.list_active_orders()
    assert (listed.order_id, listed.code) == (purchase.order_id, "246810")
    client.finish(purchase.order_id)
    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books("smspool", key, charges=[purchase.cost], reported=balance)


def test_it_learns_that_smspools_stub_rents_nothing(upstream):
    learned: list[dict] = []
    key = upstream.key("stub")
    client = upstream.client(P, key)
    client.base_url = upstream.server.url("smspool") + "/stubs/handler_api"
    client.on_learn = learned.append
    with pytest.raises(Unsupported):  # SMSPool rents through its own API only
        client.list_rental_offers(country_id=USA)
    assert learned == [{"missing": ["rentals"]}] and not client.supports(Capability.RENTALS)
    with pytest.raises(Unsupported):
        client.list_rental_offers(country_id=USA)
    stub_rentals = "stub:getRentServicesAndCountries"
    assert upstream.requests_made("smspool", key, stub_rentals) == 1
