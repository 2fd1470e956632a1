"""NumPoolClient against the sandbox over real HTTP: every operation, the books after each."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    RateLimited,
    Unsupported,
)
from providers.types import Capability, OrderStatus, PurchaseRequest, RentalRequest

P = "numpool"
USA, UK, WHATSAPP = "187", "28", "wa"
WA_US = PurchaseRequest(service_id=WHATSAPP, country_id=USA)
START = Decimal("100.00")


@pytest.fixture
def client(upstream):
    return upstream.client(P)


def buy(client):
    (purchase,) = client.purchase(WA_US)
    return purchase


def test_it_fetches_the_catalog_with_iso_codes(client):
    catalog = client.fetch_catalog()
    countries = {c.id: c for c in catalog.countries}
    assert countries[USA].iso == "US" and countries[UK].iso == "GB"
    services = {s.id: s.name for s in catalog.services}
    assert services[WHATSAPP] == "WhatsApp" and len(services) == 28
    quotes = [q for q in catalog.quotes if (q.service_id, q.country_id) == (WHATSAPP, USA)]
    (quote,) = quotes
    assert quote.price > 0 and quote.currency == "USD" and quote.stock
    assert client.get_quotes(service_id=WHATSAPP, country_id=USA) == [quote]


def test_it_reads_the_balance(upstream, client):
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (START, "USD")
    upstream.assert_books(P, client.api_key, reported=balance.amount)


def test_it_buys_and_reads_the_code_from_the_poll_and_the_order_list(upstream, client):
    purchase = buy(client)
    assert purchase.cost and purchase.cost > 0 and purchase.phone_number.startswith("1")
    assert purchase.status is OrderStatus.WAITING and purchase.raw_status == "pending"
    assert upstream.charged(P, client.api_key, purchase.order_id) == purchase.cost
    assert client.get_order(purchase.order_id).status is OrderStatus.WAITING

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 482-913")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "482913")
    assert state.full_text == "Your WhatsApp code is 482-913"
    (listed,) = client.list_active_orders()
    assert (listed.order_id, listed.code) == (purchase.order_id, "482913")
    assert listed.cost == purchase.cost
    assert listed.expires_at == upstream.expires_at(P, client.api_key, purchase.order_id)
    assert (listed.service, listed.country) == (WHATSAPP, USA)

    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books(P, client.api_key, charges=[purchase.cost], reported=balance)


def test_it_cannot_resend_or_finish(upstream, client):
    assert not client.supports(Capability.RESEND) and not client.supports(Capability.FINISH)
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 111-222")
    with pytest.raises(Unsupported):
        client.resend(purchase.order_id)
    assert client.finish(purchase.order_id) is None  # no such call: nothing is sent
    assert upstream.requests_made(P, client.api_key) == 1  # only the purchase
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_cancels_after_the_lock_and_is_refunded(upstream, client):
    purchase = buy(client)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    assert early.value.retry_after is not None and 0 < early.value.retry_after <= 30

    upstream.advance(31)
    result = client.cancel(purchase.order_id)
    assert result.refunded == purchase.cost and result.status is OrderStatus.CANCELLED
    assert upstream.refunded(P, client.api_key, purchase.order_id) == result.refunded
    assert client.get_order(purchase.order_id).status is OrderStatus.CANCELLED
    assert client.list_active_orders() == []

    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[result.refunded], reported=balance
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
def test_it_rents_reads_the_inbox_and_cannot_refund_or_extend(upstream, client):
    offers = {o.id: o for o in client.list_rental_offers()}
    discord = offers["discord"]
    assert set(discord.durations) == {1, 3, 7, 14, 30} and discord.country_iso == "US"
    assert not discord.refundable and not discord.extendable

    rental = client.rent(RentalRequest(offer_id="discord", duration=7))
    assert rental.cost == discord.durations[7] and rental.duration == 7
    assert rental.phone_number.startswith("1") and rental.expires_at is not None
    assert upstream.charged(P, client.api_key, rental.rental_id) == rental.cost
    state = client.get_rental(rental.rental_id)
    assert state.status == "active" and state.expires_at == rental.expires_at

    assert client.list_rental_messages(rental.rental_id) == []
    upstream.rental_message(P, client.api_key, rental.rental_id, "Your Discord code is 123456")
    (message,) = client.list_rental_messages(rental.rental_id)
    assert (message.text, message.code, message.sender) == (
        "Your Discord code is 123456",
        "123456",
        "Discord",
    )

    with pytest.raises(Unsupported):
        client.refund_rental(rental.rental_id)
    with pytest.raises(Unsupported):
        client.extend_rental(rental.rental_id, 7)
    with pytest.raises(InvalidRequest):  # not a NumPool length
        client.rent(RentalRequest(offer_id="discord", duration=2))

    balance = client.get_balance().amount
    assert balance == START - rental.cost
    upstream.assert_books(P, client.api_key, charges=[rental.cost], reported=balance)


# --- errors -------------------------------------------------------------------------------------
def test_it_maps_out_of_stock(make_upstream):
    upstream = make_upstream(out_of_stock={P: ["US"]})
    client = upstream.client(P)
    with pytest.raises(OutOfStock):
        client.purchase(WA_US)
    (uk,) = client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id=UK))
    upstream.assert_books(P, client.api_key, charges=[uk.cost])


def test_it_maps_insufficient_balance(upstream, client):
    client.get_balance()
    upstream.set_balance(P, client.api_key, "0.01")
    with pytest.raises(InsufficientBalance):
        client.purchase(WA_US)
    with pytest.raises(InsufficientBalance):
        client.rent(RentalRequest(offer_id="discord", duration=1))
    assert client.get_balance().amount == Decimal("0.01")
    upstream.assert_books(P, client.api_key)


def test_it_maps_a_bad_key(upstream):
    client = upstream.client(P, "np_live_not_a_sandbox_key")
    with pytest.raises(AuthFailed):
        client.get_balance()
    with pytest.raises(AuthFailed):
        client.purchase(WA_US)


def test_it_maps_an_unknown_order_to_not_found(client):
    with pytest.raises(NotFound):
        client.get_order("0123456789abcdef01234567")
    with pytest.raises(NotFound):
        client.cancel("0123456789abcdef01234567")


def test_it_maps_429_to_rate_limited(make_upstream):
    upstream = make_upstream(rate_limits={P: [3, 60]})
    client = upstream.client(P)
    done, limited = upstream.until_rate_limited(client.get_balance)
    assert done == 3 and "60/min" in limited.message
    # NumPool sends no Retry-After; retries back off briefly and give up while limited.
    patient = upstream.client(P, client.api_key, max_attempts=3)
    with pytest.raises(RateLimited):
        patient.get_balance()
    assert upstream.requests_made(P, client.api_key, "/balance") == 7
