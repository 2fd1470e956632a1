"""SmsCodeClient against a sandbox host that speaks only the integration guide's dialect.

Over real HTTP, no mocks. The sandbox plays smscode-api-integration-guide.txt for
these keys (`dialects` knob): no services list, no /v2, no active list, finish
or resend; POST /v1/orders {country_id, platform_id}, DELETE /v1/orders/{id},
catalogue rows keyed by country_id/platform_id with available_count, lower-case
statuses. The client must find that out by itself, remember it per account, and
keep the books straight.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Team
from providers.canonical import country_iso_for, service_slug_for
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
from providers.http import Transport
from providers.models import CatalogCountry, CatalogPrice, CatalogService
from providers.sandbox import catalog
from providers.services import catalog_sync, provider_account_test
from providers.types import Capability, OrderStatus, PurchaseRequest, RentalRequest
from tests.conftest import sandbox_account
from tests.integration.conftest import no_sleep

P = "smscode"
INDONESIA, INDIA, WHATSAPP = "6", "22", "1"  # SMSCode country and platform ids
WA_ID = PurchaseRequest(service_id=WHATSAPP, country_id=INDONESIA)
START = Decimal(1_600_000)  # IDR
GUIDE_LACKS = ["bulk_active", "finish", "operator", "pricing_option", "quantity", "resend"]
GUIDE_FACTS = {"dialect": "guide", "missing": GUIDE_LACKS}


@pytest.fixture
def upstream(make_upstream):
    """Every SMSCode key is served in the guide's dialect; codes come only when delivered."""
    return make_upstream(dialects={P: "guide"})


def make_client(upstream, key: str = "", *, currency: str = "", facts=None, on_learn=None):
    """The real client at the sandbox with an account's facts; one attempt, no budget."""
    key = key or upstream.key("guide")
    transport = Transport(label=P, secrets=(key,), budget=None, max_attempts=1, sleep=no_sleep)
    return SmsCodeClient(
        base_url=upstream.base_url(P),
        api_key=key,
        currency=currency,
        transport=transport,
        facts=facts,
        on_learn=on_learn,
    )


@pytest.fixture
def learned() -> list[dict]:
    return []


@pytest.fixture
def client(upstream, learned):
    """A client for a new account: nothing known about its host yet."""
    return make_client(upstream, on_learn=learned.append)


def listed_price(service: str = "whatsapp", iso: str = "ID") -> Decimal:
    """What the sandbox charges for a pair: its cheapest tier (all in stock here)."""
    return Decimal(catalog.offer(P, service, iso).tiers[0].price)


def buy(client, request=WA_ID):
    (purchase,) = client.purchase(request)
    return purchase


def no_sms(upstream, client, order_id: str) -> None:
    """Keep the SMS from arriving by itself (the clock moves a lot in these tests)."""
    upstream.order(P, client.api_key, order_id).deliver_at = None


# --- a new account ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_new_account_connects_learns_the_guide_and_maps_its_catalogue(upstream):
    team = Team.objects.create(name="Guide QA")
    account = sandbox_account(team, upstream.server, P, sync=False)

    report = provider_account_test(account=account, actor=None)
    assert report.ok, report.error
    assert (report.balance, report.currency) == (START, "IDR")
    assert report.sample is not None and report.sample.currency == "IDR"
    account.refresh_from_db()
    assert account.wire_facts == GUIDE_FACTS
    assert not account.supports(Capability.BULK_ACTIVE)
    # Learned from the countries list's rows: not one request went to an SDK-only path.
    assert upstream.requests_made(P, account.api_key, "/catalog/services") == 0

    result = catalog_sync(account=account)
    assert result.countries and result.services and result.prices
    assert result.unmapped_countries == 0
    indonesia = CatalogCountry.objects.get(account=account, upstream_id=INDONESIA)
    whatsapp = CatalogService.objects.get(account=account, upstream_id=WHATSAPP)
    assert (indonesia.name, indonesia.country.iso) == ("Indonesia", "ID")
    assert (whatsapp.name, whatsapp.service.slug) == ("WhatsApp", "whatsapp")
    price = CatalogPrice.objects.get(account=account, service=whatsapp, country=indonesia)
    assert price.price == listed_price() and price.stock > 0
    account.refresh_from_db()
    assert account.wire_facts == GUIDE_FACTS  # learned once, kept


def test_it_fetches_the_catalogue_in_two_requests_and_it_maps(upstream, client):
    catalogue = client.fetch_catalog()
    countries = {c.id: c for c in catalogue.countries}
    assert countries[INDONESIA].name == "Indonesia"
    assert all(country_iso_for(iso=c.iso, name=c.name) for c in catalogue.countries)
    services = {s.id: s for s in catalogue.services}
    assert services[WHATSAPP].name == "WhatsApp"
    # Mapped exactly as the SDK's own catalogue maps (which also has codes).
    expected = {
        s.slug
        for s in catalog.SERVICES
        if s.smscode_platform_id is not None and service_slug_for(name=s.name, code=s.slug)
    }
    assert {service_slug_for(name=s.name) for s in catalogue.services} - {""} == expected
    [quote] = [q for q in catalogue.quotes if (q.service_id, q.country_id) == (WHATSAPP, INDONESIA)]
    assert (quote.price, quote.currency, quote.product_id) == (listed_price(), "IDR", "")
    assert quote.stock and quote.stock > 0
    assert upstream.requests_made(P, client.api_key) == 2  # countries, products


def test_it_lists_services_and_quotes_by_country(client):
    services = client.list_services(country_id=INDONESIA)
    assert WHATSAPP in {s.id for s in services}
    quotes = client.get_quotes(service_id=WHATSAPP, country_id=INDONESIA)
    assert [(q.service_id, q.country_id, q.price) for q in quotes] == [
        (WHATSAPP, INDONESIA, listed_price())
    ]


def test_it_reads_the_balance_in_idr(upstream, client):
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (START, "IDR")
    assert client.dialect == ""  # both dialects read the balance alike: nothing learned
    upstream.assert_books(P, client.api_key, reported=balance.amount)


def test_a_usd_account_on_a_guide_host_reads_idr(upstream, learned):
    client = make_client(upstream, currency="USD", on_learn=learned.append)
    balance = client.get_balance()  # /v2/balance is not there: one 404, then /v1
    assert (balance.amount, balance.currency) == (START, "IDR")
    assert learned == [GUIDE_FACTS]
    assert upstream.requests_made(P, client.api_key) == 2


# --- orders ----------------------------------------------------------------------------------
def test_it_buys_reads_the_code_and_the_books_match(upstream, client):
    purchase = buy(client)
    assert (purchase.cost, purchase.currency) == (listed_price(), "IDR")
    assert purchase.raw_status == "pending" and purchase.status is OrderStatus.WAITING
    assert purchase.phone_number.startswith("62")
    assert purchase.expires_at == upstream.expires_at(P, client.api_key, purchase.order_id)
    assert upstream.charged(P, client.api_key, purchase.order_id) == purchase.cost
    assert upstream.requests_made(P, client.api_key, "/orders/create") == 0  # never tried
    no_sms(upstream, client, purchase.order_id)

    waiting = client.get_order(purchase.order_id)
    assert (waiting.status, waiting.raw_status, waiting.code) == (
        OrderStatus.WAITING,
        "pending",
        "",
    )
    upstream.advance(31)
    assert client.get_order(purchase.order_id).raw_status == "active"

    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 482-913")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code, state.raw_status) == (
        OrderStatus.COMPLETED,
        "482913",
        "completed",
    )
    assert client.finish(purchase.order_id) is None  # completed by the code already

    balance = client.get_balance().amount
    assert balance == START - purchase.cost
    upstream.assert_books(P, client.api_key, charges=[purchase.cost], reported=balance)


def test_it_cancels_after_the_lock_and_is_refunded(upstream, client):
    purchase = buy(client)
    no_sms(upstream, client, purchase.order_id)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    # From the Retry-After of the 409: the 30 s lock, give or take a second.
    assert early.value.retry_after is not None and 25 <= early.value.retry_after <= 31
    assert early.value.provider_code == "CANCEL_TOO_EARLY"

    upstream.advance(31)
    result = client.cancel(purchase.order_id)
    assert (result.order_id, result.status) == (purchase.order_id, OrderStatus.CANCELLED)
    assert result.refunded is None  # the guide's answer does not say; the books do
    assert upstream.refunded(P, client.api_key, purchase.order_id) == purchase.cost
    assert client.get_order(purchase.order_id).status is OrderStatus.CANCELLED

    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )
    assert upstream.requests_made(P, client.api_key, "/orders/cancel") == 0


def test_it_refuses_to_cancel_once_the_code_arrived(upstream, client):
    purchase = buy(client)
    upstream.advance(31)
    upstream.deliver(P, client.api_key, purchase.order_id, "Your WhatsApp code is 555-666")
    assert client.get_order(purchase.order_id).raw_status == "completed"
    with pytest.raises(InvalidRequest) as caught:
        client.cancel(purchase.order_id)
    assert caught.value.provider_code == "CONFLICT"
    assert upstream.requests_made(P, client.api_key, "DELETE /orders/{id}") == 1
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_it_reports_an_expired_order_and_refunds_it(upstream, client):
    purchase = buy(client)
    no_sms(upstream, client, purchase.order_id)
    upstream.advance(1201)
    state = client.get_order(purchase.order_id)
    assert state.status is OrderStatus.EXPIRED and state.raw_status == "expired"
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        P, client.api_key, charges=[purchase.cost], refunds=[purchase.cost], reported=balance
    )


def test_it_says_what_the_guide_lacks(upstream, client):
    purchase = buy(client)
    for call in (
        client.list_active_orders,
        client.list_orders,
        lambda: client.resend(purchase.order_id),
        lambda: client.purchase(PurchaseRequest(service_id=WHATSAPP, country_id="6", quantity=2)),
        lambda: client.rent(RentalRequest(offer_id="x", duration=1)),
    ):
        with pytest.raises(Unsupported):
            call()
    assert not client.supports(Capability.BULK_ACTIVE)
    assert not client.supports(Capability.RESEND)
    assert client.supports(Capability.MAX_PRICE)
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


# --- errors ----------------------------------------------------------------------------------
def test_it_maps_out_of_stock(make_upstream):
    upstream = make_upstream(dialects={P: "guide"}, out_of_stock={P: ["ID"]})
    client = make_client(upstream)
    with pytest.raises(OutOfStock):  # available_count 0: the client does not even try
        buy(client)
    assert upstream.requests_made(P, client.api_key, "POST /orders") == 0
    india = buy(client, PurchaseRequest(service_id=WHATSAPP, country_id=INDIA))
    assert (india.cost, india.raw_status) == (listed_price(iso="IN"), "pending")
    upstream.assert_books(P, client.api_key, charges=[india.cost])


def test_it_maps_insufficient_balance(upstream, client):
    client.get_balance()
    upstream.set_balance(P, client.api_key, "1000")
    with pytest.raises(InsufficientBalance) as caught:
        buy(client)
    assert caught.value.provider_code == "INSUFFICIENT_BALANCE"
    assert caught.value.details["http_status"] == 402  # the guide's status, not the SDK's 409
    assert client.get_balance().amount == Decimal(1000)
    upstream.assert_books(P, client.api_key)


def test_it_maps_an_unknown_order_to_not_found(upstream, client):
    client.list_countries()
    with pytest.raises(NotFound):
        client.get_order("4999999")
    with pytest.raises(NotFound) as caught:
        client.cancel("4999999")
    assert caught.value.provider_code == "ORDER_NOT_FOUND"
    assert upstream.requests_made(P, client.api_key, "/orders/cancel") == 0


def test_it_maps_a_bad_key(upstream):
    client = make_client(upstream, "live_not_a_sandbox_key")
    with pytest.raises(AuthFailed):
        client.get_balance()
    with pytest.raises(AuthFailed):
        client.purchase(WA_ID)
    assert client.dialect == "" and client.facts == {}  # a refusal teaches nothing


# --- detection and memory --------------------------------------------------------------------
def test_the_detected_dialect_is_remembered(upstream, learned):
    first = make_client(upstream, on_learn=learned.append)
    assert WHATSAPP in {s.id for s in first.list_services()}  # the SDK's list: 404
    assert learned == [GUIDE_FACTS]
    key = first.api_key
    assert upstream.requests_made(P, key, "/catalog/services") == 1

    second = make_client(upstream, key, facts=learned[-1], on_learn=learned.append)
    second.fetch_catalog()
    second.list_services()
    purchase = buy(second)
    no_sms(upstream, second, purchase.order_id)
    upstream.advance(31)
    second.cancel(purchase.order_id)
    second.finish(purchase.order_id)
    assert learned == [GUIDE_FACTS]  # on_learn once, for the first client only
    for sdk_path in ("/catalog/services", "/orders/create", "/orders/cancel", "/orders/finish"):
        assert upstream.requests_made(P, key, sdk_path) == (sdk_path == "/catalog/services")
    upstream.assert_books(P, key, charges=[purchase.cost], refunds=[purchase.cost])


def test_a_new_client_detects_on_a_blind_purchase_without_buying_twice(upstream, client, learned):
    tier = str(catalog.offer(P, "whatsapp", "ID").tiers[0].product_id)
    request = PurchaseRequest(service_id=WHATSAPP, country_id=INDONESIA, product_id=tier)
    purchase = buy(client, request)
    assert upstream.requests_made(P, client.api_key, "/orders/create") == 1  # the 404
    assert upstream.requests_made(P, client.api_key, "POST /orders") == 1
    assert len(upstream.orders(P, client.api_key)) == 1
    assert learned == [GUIDE_FACTS]
    upstream.assert_books(P, client.api_key, charges=[purchase.cost])


def test_a_remembered_sdk_account_re_detects_once(upstream, learned):
    client = make_client(upstream, facts={"dialect": "sdk"}, on_learn=learned.append)
    assert client.list_services() and client.list_services()
    assert learned == [GUIDE_FACTS]
    assert upstream.requests_made(P, client.api_key, "/catalog/services") == 1


def test_a_remembered_guide_account_on_an_sdk_host_re_learns_the_sdk(make_upstream, learned):
    upstream = make_upstream()  # the SDK's dialect, which also serves the guide's forms
    client = make_client(upstream, facts=dict(GUIDE_FACTS), on_learn=learned.append)
    catalogue = client.fetch_catalog()  # the countries rows carry `id`: an SDK host
    assert learned == [{"dialect": "sdk", "missing": []}]
    assert all(q.product_id for q in catalogue.quotes)
    assert client.supports(Capability.BULK_ACTIVE)
    purchase = buy(client)
    assert upstream.requests_made(P, client.api_key, "/orders/create") == 1
    assert client.list_active_orders()[0].order_id == purchase.order_id


def test_the_dialect_is_chosen_per_key(make_upstream):
    guide_key = "sbx_guide_only_this_one"
    upstream = make_upstream(dialects={guide_key: "guide"})
    guide_facts: list[dict] = []
    sdk_facts: list[dict] = []
    guide = make_client(upstream, guide_key, on_learn=guide_facts.append)
    sdk = make_client(upstream, on_learn=sdk_facts.append)
    guide.list_countries(), sdk.list_countries()
    assert (guide_facts, sdk_facts) == ([GUIDE_FACTS], [{"dialect": "sdk"}])
    assert buy(guide).cost == buy(sdk).cost == listed_price()
