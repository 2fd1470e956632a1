"""The whole SMS-Activate flow, driven by SMS-Activate's own Python client
(`smsactivate` on PyPI, which this project did not write) against a live smsdesk
server with the sandbox provider behind it.

The library has no setting for its address (it always calls SMS-Activate's host);
pointing an instance at another host is what every user of it does to reach a clone:
set its private `__api_url`. Everything else is the library as published.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from smsactivate.api import SMSActivateAPI

from accounts.models import Membership, Team
from accounts.roles import Role
from api.models import ApiOrder, Scope
from api.services import api_key_create
from orders.models import Order, State
from sync import engine
from tests.base import make_user, smsdesk_clock_ahead
from tests.conftest import sandbox_account, start_sandbox


@pytest.fixture
def world(transactional_db):
    team = Team.objects.create(name="Alpha QA")
    bob = make_user("bob")
    member = Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    server = start_sandbox()
    account = sandbox_account(team, server, "smsactivate")
    yield team, member, server, account
    server.stop()


def client_for(live_server, raw: str) -> SMSActivateAPI:
    api = SMSActivateAPI(raw)
    api._SMSActivateAPI__api_url = f"{live_server.url}/api/handler_api.php"
    return api


def deliver(server, order: Order, text: str) -> None:
    upstream = server.state.order("smsactivate", order.account.api_key, order.upstream_id)
    with server.state.lock:
        server.state.deliver(upstream, text=text)


def order_of(activation_id: int) -> Order:
    return ApiOrder.objects.select_related("order__account").get(activation_id=activation_id).order


def test_the_whole_flow_balance_number_code_another_code_finish(world, live_server):
    team, member, server, account = world
    member.monthly_spend_limit = Decimal("20.00")
    member.save()
    _key, raw = api_key_create(membership=member, name="tool", scope=Scope.ORDER, actor=member.user)
    api = client_for(live_server, raw)

    assert api.getBalance() == {"balance": "20.00"}
    number = api.getNumber(service="wa", country=187)
    activation, phone = number["activation_id"], number["phone"]
    order = order_of(activation)
    assert str(phone) == order.international_number.lstrip("+")
    assert order.state == State.WAITING and order.placed_via == "API: tool"
    assert Decimal(api.getBalance()["balance"]) == (Decimal("20.00") - order.cost).quantize(
        Decimal("0.01"), rounding="ROUND_DOWN"
    )

    assert api.getStatus(id=activation) == "STATUS_WAIT_CODE"
    deliver(server, order, "Your WhatsApp code is 482-913")
    engine.run_cycle(account)
    assert api.getStatus(id=activation) == "STATUS_OK:482913"
    assert api.getFullSms(id=activation) == "FULL_SMS:Your WhatsApp code is 482-913"

    # The same code is on the live board.
    browser = Client()
    browser.force_login(member.user)
    board = browser.get(reverse("board", args=[team.code])).content.decode()
    assert "482913" in board and "API: tool" in board

    assert api.setStatus(id=activation, status=3) == "ACCESS_RETRY_GET"
    assert api.getStatus(id=activation) == "STATUS_WAIT_RETRY:482913"
    deliver(server, order, "Your WhatsApp code is 551-234")
    engine.run_cycle(account)
    assert api.getStatus(id=activation) == "STATUS_OK:551234"

    active = api.getActiveActivations()
    assert active["status"] == "success"
    assert [a["activationId"] for a in active["activeActivations"]] == [str(activation)]

    assert api.setStatus(id=activation, status=6) == "ACCESS_ACTIVATION"
    order.refresh_from_db()
    assert order.state == State.COMPLETED
    assert api.getActiveActivations() == {"status": "error", "error": "NO_ACTIVATIONS"}


def test_cancel_inside_and_after_the_providers_lock(world, live_server):
    _team, member, server, _account = world
    _key, raw = api_key_create(membership=member, name="tool", scope=Scope.ORDER, actor=member.user)
    api = client_for(live_server, raw)
    activation = api.getNumber(service="tg", country=16)["activation_id"]
    order = order_of(activation)

    # Inside the lock the provider refuses, and so does the gateway, in the protocol's words.
    assert api.setStatus(id=activation, status=8) == "EARLY_CANCEL_DENIED"
    order.refresh_from_db()
    assert order.state == State.WAITING and order.cancel_available_at is not None

    # After it: ten minutes on, for the provider and for smsdesk.
    server.state.clock.advance(server.state.scaled(600))
    with smsdesk_clock_ahead(600):
        assert api.setStatus(id=activation, status=8) == "ACCESS_CANCEL"
        # The library reads STATUS_CANCEL as an error ("activation canceled").
        assert api.getStatus(id=activation)["error"] == "STATUS_CANCEL"
    order.refresh_from_db()
    assert order.state == State.CANCELLED
    assert order.ledger.filter(amount__lt=0).exists()  # the refund is booked


def test_out_of_stock_no_balance_and_a_bad_key(world, live_server):
    _team, member, server, _account = world
    _key, raw = api_key_create(membership=member, name="tool", scope=Scope.ORDER, actor=member.user)
    api = client_for(live_server, raw)

    server.state.config.out_of_stock = {"all": ["GB"]}
    assert api.getNumber(service="wa", country=16)["error"] == "NO_NUMBERS"

    member.monthly_spend_limit = Decimal("0.01")
    member.save()
    assert api.getNumber(service="wa", country=187)["error"] == "NO_BALANCE"
    assert api.getNumberV2(service="wa", country=187)["error"] == "NO_BALANCE"
    assert not Order.objects.filter(state=State.WAITING).exists()

    assert client_for(live_server, "x" * 44).getBalance()["error"] == "BAD_KEY"
    assert client_for(live_server, raw[:-1] + "0").getNumber(service="wa")["error"] == "BAD_KEY"


def test_catalogue_calls_parse_in_the_library(world, live_server):
    _team, member, _server, _account = world
    _key, raw = api_key_create(membership=member, name="ro", scope=Scope.READ, actor=member.user)
    api = client_for(live_server, raw)
    assert api.getCountries()["187"]["eng"] == "United States"
    prices = api.getPrices(service="wa", country=187)
    assert prices["187"]["wa"]["count"] > 0
    assert api.getNumbersStatus(country=187)["wa_0"] > 0
    assert api.getNumber(service="wa", country=187)["error"] == "BAD_KEY"  # read only
