"""SmsPoolClient against the sandbox over real HTTP: every operation, the books after each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.clients.smspool import SmsPoolClient
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    RateLimited,
    UpstreamUnavailable,
)
from providers.http import Transport
from providers.models import ProviderAccount
from providers.types import (
    Capability,
    OrderStatus,
    PurchaseRequest,
    RentalOffer,
    RentalRequest,
)
from rentals.models import Rental, RentalState
from rentals.services import refund_status
from tests.integration.conftest import no_sleep

P = "smspool"
US, WHATSAPP = "1", "1012"  # SMSPool's own ids
WA_US = PurchaseRequest(service_id=WHATSAPP, country_id=US)
START = Decimal("100.00")
NL_RENTAL = "3"  # extendable, refundable within 12 hours, 3 days for $10


@pytest.fixture
def client(upstream):
    return upstream.client(P)


def buy(client):
    (purchase,) = client.purchase(WA_US)
    return purchase


def test_it_fetches_the_catalog(client):
    catalog = client.fetch_catalog()
    countries = {c.id: c for c in catalog.countries}
    assert countries[US].iso == "US" and countries["2"].iso == "GB"
    assert all(c.iso for c in catalog.countries)
    services = {s.id: s.name for s in catalog.services}
    assert services[WHATSAPP] == "WhatsApp" and services["907"] == "Telegram"
    assert {"0", "7"} <= {p.id for p in catalog.pools}
    quotes = [q for q in catalog.quotes if (q.service_id, q.country_id) == (WHATSAPP, US)]
    assert quotes and all(q.price > 0 and q.currency == "USD" for q in quotes)
    assert any(q.stock for q in quotes)  # /sms/all_stock enriched the prices
    (pair,) = client.get_quotes(service_id=WHATSAPP, country_id=US)
    assert pair.price == min(q.price for q in quotes)


def test_it_reads_the_balance(upstream, client):
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (START, "USD")
    upstream.assert_books(P, client.api_key, reported=balance.amount)


def test_it_buys_and_reads_the_code_from_check_and_the_active_list(upstream, client):
    purchase = buy(client)
    assert purchase.cost and purchase.cost > 0 and purchase.currency == "USD"
    assert purchase.phone_number.startswith("1") and purchase.country_code == "1"
    assert purchase.expires_at == upstream.expires_at(P, client.api_key, purchase.order_id)
    assert upstream.charged(P, client.api_key, purchase.order_id) == purchase.cost

    waiting = client.get_order(purchase.order_id)
    assert waiting.status is OrderStatus.WAITING and waiting.code == ""

    code = upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 482-913")
    assert code == "482913"
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "482913")
    assert "482-913" in state.full_text
    (listed,) = [o for o in client.list_active_orders() if o.order_id == purchase.order_id]
    assert (listed.status, listed.code) == (OrderStatus.RECEIVED, "482913")
    assert listed.cost == purchase.cost and listed.country == "US"
    assert listed.expires_at == purchase.expires_at
    # History times are zone-less server time (CET): they read back as the purchase moment.
    (record,) = client.history()
    created = upstream.order(P, client.api_key, purchase.order_id).created_at
    assert record.ordered_at == datetime.fromtimestamp(int(created), UTC)

    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books(P, client.api_key, charges=[purchase.cost], reported=balance)


def test_it_resends_on_a_new_order_that_receives_the_new_code(upstream, client):
    first = buy(client)
    upstream.deliver(P, client.api_key, first.order_id, "Your WhatsApp code is 111-222")
    assert client.check_resend(first.order_id).available

    resent = client.resend(first.order_id)
    assert resent.order_id != first.order_id and resent.charge == 0
    assert client.get_order(resent.order_id).status is OrderStatus.WAITING
    old = client.get_order(first.order_id)
    assert (old.status, old.code) == (OrderStatus.RESEND_REQUESTED, "111222")

    upstream.deliver(P, client.api_key, resent.order_id, "Your WhatsApp code is 333-444")
    assert client.get_order(resent.order_id).code == "333444"
    active = {o.order_id: o for o in client.list_active_orders()}
    assert active[resent.order_id].code == "333444" and first.order_id not in active

    balance = client.get_balance().amount
    upstream.assert_books(P, client.api_key, charges=[first.cost], reported=balance)


def test_it_cancels_after_the_lock_and_is_refunded(upstream, client):
    purchase = buy(client)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    assert early.value.retry_after is not None and 0 < early.value.retry_after <= 60
    assert client.get_order(purchase.order_id).status is OrderStatus.WAITING

    upstream.advance(31)  # the 30 s lock is over
    result = client.cancel(purchase.order_id)
    assert result.refunded == purchase.cost and result.status is OrderStatus.CANCELLED
    assert upstream.refunded(P, client.api_key, purchase.order_id) == result.refunded
    assert client.get_order(purchase.order_id).status is OrderStatus.REFUNDED
    assert purchase.order_id not in {o.order_id for o in client.list_active_orders()}

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


def test_it_reports_an_expired_order_refunded(upstream, client):
    purchase = buy(client)
    upstream.advance(1201)  # the order lives 1200 s
    state = client.get_order(purchase.order_id)
    assert state.status is OrderStatus.REFUNDED and state.status.is_final
    assert client.list_active_orders() == []
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )


def test_it_has_no_finish_call(upstream, client):
    assert not client.supports(Capability.FINISH)
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 123-456")
    assert client.finish(purchase.order_id) is None  # a no-op: nothing is sent
    assert client.get_order(purchase.order_id).code == "123456"


# --- rentals ----------------------------------------------------------------------------------
def rent(client, days=3):
    return client.rent(RentalRequest(offer_id=NL_RENTAL, duration=days))


def test_it_lists_rental_offers(client):
    offers = {o.id: o for o in client.list_rental_offers()}
    nl = offers[NL_RENTAL]
    assert nl.extendable and nl.refundable and nl.refund_within_hours == 12
    assert nl.durations[3] == Decimal(10)
    assert not offers["1"].extendable
    pricing = client.get_rental_pricing(NL_RENTAL)
    assert pricing.extend_durations[3] == Decimal(10)


def test_it_rents_wakes_reads_messages_and_extends(upstream, client):
    rental = rent(client)
    assert rental.cost == Decimal(10) and rental.phone_number.startswith("31")
    assert rental.expires_at is not None
    assert upstream.charged(P, client.api_key, rental.rental_id) == rental.cost

    # A new line starts awake; once asleep, the status call wakes it again.
    awake = client.wake_rental(rental.rental_id)
    assert awake.available is True and awake.active_for and 0 < awake.active_for <= 300
    upstream.advance(301)
    asleep = client.get_rental(rental.rental_id)  # /rental/info does not wake the line
    assert asleep.available is None
    woken = client.wake_rental(rental.rental_id)
    assert woken.available is True and woken.active_for == 300

    assert client.list_rental_messages(rental.rental_id) == []
    upstream.rental_message(P, client.api_key, rental.rental_id, "Your Telegram code is 24680")
    (message,) = client.list_rental_messages(rental.rental_id)
    assert message.text == "Your Telegram code is 24680" and message.sender
    # The zone-less server time reads back as the moment it arrived (CET, not UTC).
    (sent,) = upstream.rental(P, client.api_key, rental.rental_id).messages
    assert message.received_at == datetime.fromtimestamp(int(sent.delivered_at), UTC)

    extended = client.extend_rental(rental.rental_id, 3)
    assert extended.expires_at == rental.expires_at + timedelta(days=3)
    assert client.get_rental(rental.rental_id).expires_at == extended.expires_at
    # After a message a refund is refused, and nothing moves.
    with pytest.raises(InvalidRequest):
        client.refund_rental(rental.rental_id)

    balance = client.get_balance().amount
    assert balance == START - 20
    upstream.assert_books(P, client.api_key, charges=[Decimal(10), Decimal(10)], reported=balance)


def test_it_refunds_a_rental_without_messages(upstream, client):
    rental = rent(client)
    refund = client.refund_rental(rental.rental_id)
    assert "refunded" in refund.message.lower()
    info = client.rental_info(rental.rental_id)
    assert info.refunded is True
    assert client.get_rental(rental.rental_id).status == "refunded"
    assert rental.rental_id not in {r.rental_id for r in client.list_rentals()}
    with pytest.raises(InvalidRequest):  # a second refund is refused
        client.refund_rental(rental.rental_id)

    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[rental.cost], refunds=[rental.cost], reported=balance
    )


def test_it_toggles_auto_extend_and_reads_it_back(upstream, client):
    rental = rent(client)
    assert client.get_rental(rental.rental_id).auto_extend is False
    assert client.set_rental_auto_extend(rental.rental_id, True) is True
    assert client.get_rental(rental.rental_id).auto_extend is True
    assert client.set_rental_auto_extend(rental.rental_id, True) is True  # no toggle back
    assert client.rental_info(rental.rental_id).auto_extend is True

    # At the end the sandbox renews it (charged) instead of closing it.
    upstream.advance(3 * 86400 + 1)
    renewed = client.get_rental(rental.rental_id)
    assert renewed.expires_at == rental.expires_at + timedelta(days=3)
    assert client.set_rental_auto_extend(rental.rental_id, False) is False
    assert client.get_rental(rental.rental_id).auto_extend is False

    balance = client.get_balance().amount
    upstream.assert_books(P, client.api_key, charges=[Decimal(10), Decimal(10)], reported=balance)


# --- errors -----------------------------------------------------------------------------------
def test_it_maps_out_of_stock(make_upstream):
    upstream = make_upstream(out_of_stock={P: ["US"]})
    client = upstream.client(P)
    with pytest.raises(OutOfStock):
        client.purchase(WA_US)
    (gb,) = client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id="2"))
    upstream.assert_books(P, client.api_key, charges=[gb.cost])


def test_it_maps_insufficient_balance(upstream, client):
    client.get_balance()  # opens the account
    upstream.set_balance(P, client.api_key, "0.01")
    with pytest.raises(InsufficientBalance):
        client.purchase(WA_US)
    with pytest.raises(InsufficientBalance):
        rent(client)
    assert client.get_balance().amount == Decimal("0.01")
    upstream.assert_books(P, client.api_key)


def test_it_maps_a_bad_key(upstream):
    client = upstream.client(P, "live_not_a_sandbox_key")
    with pytest.raises(AuthFailed):
        client.get_balance()
    with pytest.raises(AuthFailed):
        client.purchase(WA_US)
    assert (P, "live_not_a_sandbox_key") not in upstream.state.accounts


def test_it_maps_an_unknown_order_to_not_found(client):
    with pytest.raises(NotFound):
        client.get_order("NOSUCH01")
    with pytest.raises(NotFound):
        client.cancel("NOSUCH01")


def test_it_maps_429_to_rate_limited(make_upstream):
    upstream = make_upstream(rate_limits={P: [3, 60]})
    client = upstream.client(P)
    done, limited = upstream.until_rate_limited(client.get_balance)
    assert done == 3 and limited.retry_after and limited.retry_after > 0
    # SMSPool sends no Retry-After and limits per second: the client waits the
    # one-second hint between attempts and gives up when the key stays limited.
    assert limited.retry_after == 1.0
    patient = upstream.client(P, client.api_key, max_attempts=3)
    with pytest.raises(RateLimited):
        patient.get_balance()
    assert upstream.requests_made(P, client.api_key, "/request/balance") == 3 + 1 + 3


# --- a 404 that is not SMSPool's --------------------------------------------------------------
def foreign_client(upstream, key: str, prefix: str) -> SmsPoolClient:
    """A client whose base URL the sandbox does not serve as SMSPool (a wrong URL, a proxy)."""
    return SmsPoolClient(
        base_url=upstream.server.base_url + prefix,
        api_key=key,
        transport=Transport(label=P, secrets=(key,), budget=None, max_attempts=1, sleep=no_sleep),
    )


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("/nothing-here", id='{"error": "Unknown sandbox path."}'),
        pytest.param(
            "/smspool/v2", id='{"success": 0, "message": "This endpoint does not exist."}'
        ),
    ],
)
def test_it_reads_a_foreign_404_as_upstream_unavailable_and_closes_nothing(
    upstream, client, prefix
):
    purchase = buy(client)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 111-222")
    rental = rent(client)
    upstream.advance(31)  # past the cancel lock: a real cancel would go through
    lost = foreign_client(upstream, client.api_key, prefix)
    calls = {
        "check": lambda: lost.get_order(purchase.order_id),
        "cancel": lambda: lost.cancel(purchase.order_id),
        "resend": lambda: lost.resend(purchase.order_id),
        "rental status": lambda: lost.rental_status(rental.rental_id),
        "rental info": lambda: lost.get_rental(rental.rental_id),
        "rental messages": lambda: lost.list_rental_messages(rental.rental_id),
        "rental refund": lambda: lost.refund_rental(rental.rental_id),
    }
    for name, call in calls.items():
        with pytest.raises(UpstreamUnavailable) as caught:
            call()
        assert type(caught.value) is UpstreamUnavailable, name  # never NotFound

    # SMSPool itself still has both, untouched, and nothing was refunded.
    assert client.get_order(purchase.order_id).status is OrderStatus.RECEIVED
    assert client.get_rental(rental.rental_id).status == "active"
    upstream.assert_books(P, client.api_key, charges=[purchase.cost, rental.cost])


def test_it_still_reads_smspools_own_404_as_not_found(upstream, client):
    rental_calls = (client.rental_status, client.list_rental_messages, client.refund_rental)
    for call in (client.get_order, client.cancel, client.resend, *rental_calls):
        with pytest.raises(NotFound):
            call("NOSUCH01")


# --- the seed dialect: the endpoint page's answers --------------------------------------------
def seed_client(upstream):
    key = upstream.key("seed")
    upstream.configure(dialects={key: "seed"})
    return upstream.client(P, key)


def portal_rental(offer: RentalOffer, **fields) -> Rental:
    """The portal's row for a rental of `offer`, with the offer's terms as rentals/ copies them."""
    account = ProviderAccount(kind=P, label="SMSPool")
    return Rental(
        account=account,
        state=RentalState.ACTIVE,
        duration=3,
        refundable=offer.refundable,
        refund_within_hours=offer.refund_within_hours,
        **fields,
    )


def test_it_reads_seed_rental_offers_as_refundable_within_12_hours(upstream):
    client = seed_client(upstream)
    offers = {o.id: o for o in client.list_rental_offers()}
    assert set(offers) == {"1", "2", "3", "6", "7"}
    assert all((o.refundable, o.refund_within_hours) == (True, 12) for o in offers.values())
    nl = offers[NL_RENTAL]
    assert nl.extendable and nl.durations[3] == Decimal(10) and nl.name == "Netherlands"

    # The portal's rule then allows the refund in the first 12 hours, before a message.
    now = timezone.now()
    assert refund_status(portal_rental(nl, started_at=now), now=now + timedelta(hours=11)) == (
        True,
        "",
    )
    late, reason = refund_status(portal_rental(nl, started_at=now), now=now + timedelta(hours=13))
    assert not late and "12 hours" in reason
    used, reason = refund_status(portal_rental(nl, started_at=now, message_count=1), now=now)
    assert not used and "message" in reason


def test_it_refunds_a_seed_rental_before_a_message_and_refuses_after_one(upstream):
    client = seed_client(upstream)
    # Product 6 allows 2 hours in the collection's listing; the page's rule is 12 for all.
    first = client.rent(RentalRequest(offer_id="6", duration=30))
    upstream.advance(11 * 3600)
    refund = client.refund_rental(first.rental_id)
    assert "refunded" in refund.message.lower()
    assert client.get_rental(first.rental_id).status == "refunded"

    second = rent(client)
    upstream.rental_message(P, client.api_key, second.rental_id, "Your Telegram code is 24680")
    with pytest.raises(InvalidRequest) as refused:
        client.refund_rental(second.rental_id)
    assert "12 hours" in refused.value.message

    third = rent(client)
    upstream.advance(12 * 3600 + 1)
    with pytest.raises(InvalidRequest):
        client.refund_rental(third.rental_id)

    balance = client.get_balance().amount
    assert balance == START - 20
    charges = [Decimal(20), Decimal(10), Decimal(10)]
    upstream.assert_books(
        P, client.api_key, charges=charges, refunds=[Decimal(20)], reported=balance
    )


@pytest.mark.parametrize("dialect", ["postman", "seed"])
def test_it_resends_in_either_dialect_and_the_books_match_the_charge(upstream, dialect):
    key = upstream.key(dialect)
    upstream.configure(dialects={key: dialect})
    client = upstream.client(P, key)
    first = buy(client)
    upstream.deliver(P, key, first.order_id, "Your WhatsApp code is 111-222")

    resent = client.resend(first.order_id)
    if dialect == "seed":  # the same order waits again; the answer names no charge
        assert (resent.order_id, resent.charge) == (first.order_id, None)
        assert client.get_order(first.order_id).status is OrderStatus.RESEND_REQUESTED
    else:  # a new order on the same number, and what it cost
        assert resent.order_id != first.order_id and resent.charge == Decimal(0)
        assert client.get_order(resent.order_id).status is OrderStatus.WAITING
        assert client.get_order(first.order_id).status is OrderStatus.RESEND_REQUESTED

    upstream.deliver(P, key, resent.order_id, "Your WhatsApp code is 333-444")
    state = client.get_order(resent.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "333444")
    assert [o.order_id for o in client.list_active_orders()] == [resent.order_id]

    balance = client.get_balance().amount
    charges = [first.cost] + ([resent.charge] if resent.charge else [])
    upstream.assert_books(P, key, charges=charges, reported=balance)


# --- a long cancel lock -----------------------------------------------------------------------
LOCKED_WORDING = {
    "Your order cannot be cancelled yet, please try again later.",
    "This phone number cannot be cancelled yet, please try again later.",
}


def test_it_is_refused_until_a_130_second_cancel_lock_passes_then_refunded(make_upstream):
    upstream = make_upstream(cancel_lock_by_protocol={P: 130})
    client = upstream.client(P)
    purchase = buy(client)
    refusals: list[CancelTooEarly] = []
    waited = 0.0
    while True:
        try:
            result = client.cancel(purchase.order_id)
            break
        except CancelTooEarly as exc:
            assert waited < 130, "refused after the lock ended"
            refusals.append(exc)
            assert client.get_order(purchase.order_id).status is OrderStatus.WAITING
            upstream.advance(exc.retry_after)  # wait as long as the client says
            waited += exc.retry_after

    # The body names no time, so every refusal says 10 s: refused at 0, 10 ... 120 s.
    assert [exc.retry_after for exc in refusals] == [10.0] * 13
    assert {exc.message for exc in refusals} <= LOCKED_WORDING
    assert result.refunded == purchase.cost and result.status is OrderStatus.CANCELLED
    assert client.get_order(purchase.order_id).status is OrderStatus.REFUNDED
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )
