"""SmsActivateClient against SMS-Activate hosts without catalogue or bulk actions, over real HTTP.

Two hosts, both in the sandbox's "minimal" dialect: SMSPool's SMS-Activate stub
(only what SMSPool lists: getBalance, getNumber, getStatus, setStatus,
getFullSms) and a plain SMS-Activate clone without getCountries,
getServicesList, getPrices, getNumbersStatus and getActiveActivations. The
client must still connect, offer the standard catalogue, buy, read the code,
cancel, and learn each missing action once per account (the facts it hands
to on_learn), never asking again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from providers.clients.smsactivate import SmsActivateClient
from providers.errors import CancelTooEarly, Unsupported
from providers.http import Transport
from providers.services import check_client
from providers.types import Capability, Country, OrderStatus, PurchaseRequest, Service
from tests.integration.conftest import Upstream, no_sleep

START = Decimal("100.00")
USA, ENGLAND, WHATSAPP = "187", "16", "wa"
WA_GB = PurchaseRequest(service_id=WHATSAPP, country_id=ENGLAND)
CATALOGUE = ["getCountries", "getPrices", "getServicesList"]


@dataclass(frozen=True)
class Host:
    """One SMS-Activate host on the sandbox and how the sandbox books it."""

    name: str
    protocol: str  # whose accounts and orders it trades on
    scope: str  # its dialect knob
    endpoint_prefix: str  # how the sandbox's stats name its actions
    has_v2: bool

    def url(self, upstream: Upstream) -> str:
        if self.protocol == "smspool":
            return upstream.server.url("smspool") + "/stubs/handler_api"
        return upstream.base_url("smsactivate")


STUB = Host("smspool stub", "smspool", "smspool_stub", "stub:", has_v2=False)
PLAIN = Host("smsactivate", "smsactivate", "smsactivate", "", has_v2=True)


class Account:
    """What ProviderAccount keeps between clients: the key and the learned facts."""

    def __init__(self, upstream: Upstream, host: Host):
        self.upstream, self.host = upstream, host
        self.key = upstream.key(host.scope)
        self.facts: dict = {}
        self.learned: list[dict] = []

    def client(self) -> SmsActivateClient:
        return SmsActivateClient(
            base_url=self.host.url(self.upstream),
            api_key=self.key,
            transport=Transport(
                label="smsactivate",
                secrets=(self.key,),
                budget=None,
                max_attempts=1,
                sleep=no_sleep,
            ),
            facts=self.facts,
            on_learn=self.remember,
        )

    def remember(self, facts: dict) -> None:
        self.learned.append(facts)
        self.facts = facts

    def asked(self, action: str) -> int:
        """Requests the sandbox counted for `action` from this key."""
        endpoint = self.host.endpoint_prefix + action
        return self.upstream.requests_made(self.host.protocol, self.key, endpoint)


@pytest.fixture(params=[STUB, PLAIN], ids=lambda host: host.name)
def host(request) -> Host:
    return request.param


@pytest.fixture
def account(upstream, host) -> Account:
    upstream.configure(dialects={host.scope: "minimal"})
    return Account(upstream, host)


def buy(client: SmsActivateClient):
    (purchase,) = client.purchase(WA_GB)
    return purchase


def test_it_connects_and_reads_the_balance(account):
    report = check_client(account.client())  # what "Test connection" runs
    assert report.ok, report.error
    assert report.balance == START and report.currency == "USD"
    assert report.countries == 200 and report.services > 100
    assert report.sample is None  # no prices published: nothing to sample
    account.upstream.assert_books(account.host.protocol, account.key, reported=report.balance)


def test_it_offers_the_standard_catalogue_and_asks_for_it_once(account):
    client = account.client()
    catalog = client.fetch_catalog()
    assert Country(USA, "United States", iso="US", dial_code="1") in catalog.countries
    assert Country(ENGLAND, "United Kingdom", iso="GB", dial_code="44") in catalog.countries
    assert Service(WHATSAPP, "WhatsApp", WHATSAPP) in catalog.services
    assert catalog.quotes == [] and catalog.prices_known is False
    assert account.facts == {"bad_actions": CATALOGUE}

    again = account.client().fetch_catalog()
    assert again == catalog
    assert [account.asked(action) for action in CATALOGUE] == [1, 1, 1]


def test_it_buys_reads_the_code_and_finishes(account, host):
    upstream, client = account.upstream, account.client()
    purchase = buy(client)
    charged = upstream.charged(host.protocol, account.key, purchase.order_id)
    assert charged > 0 and purchase.phone_number.startswith("44")
    # getNumberV2 carries the cost; getNumber (all SMSPool's stub has) does not, but
    # SMSPool's own active list, read with the same key, does.
    assert purchase.cost == charged
    assert purchase.expires_at is not None
    assert client.get_order(purchase.order_id).status is OrderStatus.WAITING

    upstream.deliver(host.protocol, account.key, purchase.order_id, "Your WhatsApp code is 482-913")
    state = client.get_order(purchase.order_id)
    assert (state.status, state.code) == (OrderStatus.RECEIVED, "482913")
    assert state.full_text == "Your WhatsApp code is 482-913"  # getFullSms
    client.finish(purchase.order_id)

    balance = client.get_balance().amount
    assert balance == START - charged
    upstream.assert_books(host.protocol, account.key, charges=[charged], reported=balance)


def test_it_learns_once_that_the_stub_has_no_get_number_v2(upstream):
    upstream.configure(dialects={STUB.scope: "minimal"})
    account = Account(upstream, STUB)
    first, second = buy(account.client()), buy(account.client())
    assert first.cost is not None and second.cost is not None  # from SMSPool's own list
    assert account.learned[0] == {"bad_actions": ["getNumberV2"]}
    assert account.learned[-1] == {"bad_actions": ["getNumberV2"], "native_prices": True}
    assert (account.asked("getNumberV2"), account.asked("getNumber")) == (1, 2)


def test_it_cancels_after_the_early_cancel_lock_and_is_refunded(account, host):
    upstream, client = account.upstream, account.client()
    purchase = buy(client)
    charged = upstream.charged(host.protocol, account.key, purchase.order_id)
    with pytest.raises(CancelTooEarly) as early:
        client.cancel(purchase.order_id)
    assert early.value.provider_code == "EARLY_CANCEL_DENIED"

    upstream.advance(31)
    assert client.cancel(purchase.order_id).status is OrderStatus.CANCELLED
    assert client.get_order(purchase.order_id).status is OrderStatus.CANCELLED
    assert upstream.refunded(host.protocol, account.key, purchase.order_id) == charged
    balance = client.get_balance().amount
    assert balance == START
    upstream.assert_books(
        host.protocol, account.key, charges=[charged], refunds=[charged], reported=balance
    )


def test_it_remembers_that_there_is_no_active_list(account):
    client = account.client()
    assert client.supports(Capability.BULK_ACTIVE)
    with pytest.raises(Unsupported):
        client.list_active_orders()
    assert account.learned == [{"missing": ["bulk_active"]}]
    assert not client.supports(Capability.BULK_ACTIVE)

    later = account.client()  # the next poll cycle, built from the stored facts
    assert not later.supports(Capability.BULK_ACTIVE)
    with pytest.raises(Unsupported):
        later.list_active_orders()
    assert account.asked("getActiveActivations") == 1
    assert len(account.learned) == 1


def test_a_full_host_teaches_nothing(upstream, host):
    account = Account(upstream, host)  # the default "full" dialect
    client = account.client()
    catalog = client.fetch_catalog()
    assert catalog.prices_known and catalog.quotes
    purchase = buy(client)
    assert purchase.cost == upstream.charged(host.protocol, account.key, purchase.order_id)
    (listed,) = client.list_active_orders()
    assert listed.order_id == purchase.order_id
    assert account.learned == []
