"""A pipeline through the REST API with a webhook, end to end: real HTTP to a live smsdesk
server (requests), the sandbox provider behind it over HTTP, the sync engine's cycle,
and a local receiver that checks each event with the snippet of docs/API.md."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from accounts.models import Membership, Team
from accounts.roles import Role
from api.models import Scope
from api.services import api_key_create
from orders.models import Order
from sync import engine
from tests.base import make_user
from tests.conftest import sandbox_account, start_sandbox
from tests.webhooks.helpers import documented_verify
from tests.webhooks.receiver import Receiver
from webhooks import services as webhook_services


@pytest.fixture
def world(transactional_db):
    team = Team.objects.create(name="Alpha QA")
    alice = make_user("alice")
    Membership.objects.create(team=team, user=alice, role=Role.OWNER)
    bob = make_user("bob")
    member = Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    server = start_sandbox()
    account = sandbox_account(team, server, "smspool")
    yield team, alice, member, server, account
    server.stop()


def test_a_pipeline_orders_gets_the_code_by_webhook_and_finishes(world, live_server):
    team, alice, member, server, account = world
    _, raw = api_key_create(membership=member, name="ci", scope=Scope.ORDER, actor=member.user)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {raw}"
    base = f"{live_server.url}/api/v1"
    verify = documented_verify()
    with Receiver() as receiver:
        _, secret = webhook_services.endpoint_create(
            team=team,
            actor=alice,
            url=receiver.url,
            events=["order.code_received", "order.completed"],
        )
        idem = str(uuid.uuid4())
        created = api.post(
            f"{base}/orders",
            json={"service": "whatsapp", "country": "US"},
            headers={"Idempotency-Key": idem},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        retried = api.post(
            f"{base}/orders",
            json={"service": "whatsapp", "country": "US"},
            headers={"Idempotency-Key": idem},
            timeout=30,
        )
        assert (retried.status_code, retried.json()["id"]) == (200, created.json()["id"])
        order = Order.objects.get()
        upstream = server.state.order("smspool", account.api_key, order.upstream_id)
        with server.state.lock:
            server.state.deliver(upstream, text="Your WhatsApp code is 482-913")
        engine.run_cycle(account)  # what the sync engine's next cycle does

        (event,) = receiver.requests
        assert verify(secret, event.headers["Smsdesk-Signature"], event.body)
        pushed = json.loads(event.body)
        assert (pushed["type"], pushed["data"]["order"]["code"]) == (
            "order.code_received",
            "482913",
        )
        assert api.get(f"{base}/orders/{order.code}", timeout=10).json()["code"] == "482913"

        done = api.post(f"{base}/orders/{order.code}/done", timeout=30)
        assert done.json()["state"] == "completed", done.text
        finished = receiver.requests[-1]
        assert verify(secret, finished.headers["Smsdesk-Signature"], finished.body)
        assert json.loads(finished.body)["type"] == "order.completed"
    assert len(receiver.requests) == 2
