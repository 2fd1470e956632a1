"""Injected upstream failures, through each real client and its Transport.

Every failure mode the sandbox can inject (its deterministic queue: POST
/control/fail) must reach callers as UpstreamUnavailable with a message that
says what happened; an idempotent read is retried and succeeds; a purchase
that may have reached the provider is never sent twice (counted with GET
/control/stats). SMSCode's create carries an idempotency key, so there the
retry is safe and must still buy exactly one number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest

from providers.errors import UpstreamUnavailable
from providers.sandbox import catalog
from providers.types import PurchaseRequest

TIMEOUT = (1.0, 1.0)  # connect, read: the sandbox holds a "timeout" answer for 2 s
HOLD_SECONDS = 2.0
# SMSCode's cheapest WhatsApp-Indonesia tier (product_id).
WHATSAPP_ID_TIER = str(catalog.offer("smscode", "whatsapp", "ID").tiers[0].product_id)


@dataclass(frozen=True)
class Protocol:
    kind: str
    purchase: PurchaseRequest
    balance_endpoint: str
    order_endpoint: str
    purchase_endpoint: str


PROTOCOLS = {
    "smspool": Protocol(
        "smspool",
        PurchaseRequest(service_id="1012", country_id="1"),
        "/request/balance",
        "/sms/check",
        "/purchase/sms",
    ),
    "numpool": Protocol(
        "numpool",
        PurchaseRequest(service_id="wa", country_id="187"),
        "/balance",
        "/sms/:id",
        "/buy",
    ),
    "smscode": Protocol(
        "smscode",
        # An exact product: the create is the only request a purchase makes.
        PurchaseRequest(service_id="", country_id="", product_id=WHATSAPP_ID_TIER),
        "/balance",
        "/orders/{id}",
        "/orders/create",
    ),
    "smsactivate": Protocol(
        "smsactivate",
        PurchaseRequest(service_id="wa", country_id="187"),
        "getBalance",
        "getStatus",
        "getNumberV2",
    ),
}

# What the message must say for each mode (html comes as 200 or 503 at random).
MESSAGES = {
    "http_500": r"HTTP 500",
    "timeout": r"did not answer in time",
    "html": r"HTML page|HTTP 503",
    "html_200": r"HTML page",
    "html_503": r"HTTP 503",
    "malformed": r"not JSON|broken JSON|cannot read",
    "drop": r"hung up",
}
MODES = list(MESSAGES)


@pytest.fixture
def upstream(make_upstream):
    return make_upstream(failure_timeout_seconds=HOLD_SECONDS)


@pytest.fixture(params=list(PROTOCOLS))
def spec(request) -> Protocol:
    return PROTOCOLS[request.param]


@pytest.mark.parametrize("mode", MODES)
def test_it_maps_every_failure_of_a_read_to_upstream_unavailable(upstream, spec, mode):
    client = upstream.client(spec.kind, timeout=TIMEOUT)
    upstream.fail_next(spec.kind, mode)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.get_balance()
    message = caught.value.message
    assert re.search(MESSAGES[mode], message), message
    assert "<" not in message and client.api_key not in message
    assert caught.value.retryable
    assert upstream.injected(spec.kind)[mode] == 1
    # Only the next request failed: the one after it is served.
    assert client.get_balance().amount > 0
    assert upstream.requests_made(spec.kind, client.api_key, spec.balance_endpoint) == 2


@pytest.mark.parametrize("mode", MODES)
def test_it_retries_a_read_once_and_succeeds(upstream, spec, mode):
    client = upstream.client(spec.kind, timeout=TIMEOUT, max_attempts=3)
    (purchase,) = client.purchase(spec.purchase)
    upstream.fail_next(spec.kind, mode)
    state = client.get_order(purchase.order_id)
    assert state.order_id == purchase.order_id and not state.status.is_final
    assert upstream.requests_made(spec.kind, client.api_key, spec.order_endpoint) == 2
    upstream.assert_books(spec.kind, client.api_key, charges=[_charge(upstream, spec, client)])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["smspool", "numpool", "smsactivate"])
def test_it_never_repeats_a_purchase(upstream, kind, mode):
    spec = PROTOCOLS[kind]
    client = upstream.client(kind, timeout=TIMEOUT, max_attempts=3)
    upstream.fail_next(kind, mode)
    with pytest.raises(UpstreamUnavailable):
        client.purchase(spec.purchase)
    assert upstream.requests_made(kind, client.api_key, spec.purchase_endpoint) == 1
    orders = upstream.orders(kind, client.api_key)
    if mode == "timeout":
        # The upstream did the work and the answer was lost: one orphan, charged once.
        (order,) = orders
        upstream.assert_books(kind, client.api_key, charges=[order.price])
    else:
        assert orders == []  # a failed request changes nothing upstream
        assert client.get_balance().amount == Decimal("100.00")
        upstream.assert_books(kind, client.api_key)


@pytest.mark.parametrize("mode", MODES)
def test_it_retries_an_smscode_purchase_under_the_same_key(make_upstream, mode):
    upstream = make_upstream(failure_timeout_seconds=HOLD_SECONDS)
    spec = PROTOCOLS["smscode"]
    client = upstream.client("smscode", timeout=TIMEOUT, max_attempts=3)
    upstream.fail_next("smscode", mode)
    (purchase,) = client.purchase(spec.purchase)
    assert upstream.requests_made("smscode", client.api_key, spec.purchase_endpoint) == 2
    (order,) = upstream.orders("smscode", client.api_key)
    assert order.id == purchase.order_id and order.price == purchase.cost
    upstream.assert_books("smscode", client.api_key, charges=[purchase.cost])


def _charge(upstream, spec: Protocol, client) -> Decimal:
    (order,) = upstream.orders(spec.kind, client.api_key)
    return order.price
