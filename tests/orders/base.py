"""Orders tests run against a real sandbox over real HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from sync import engine
from tests.base import BaseTestCase
from tests.conftest import sandbox_account, start_sandbox


class SandboxTestCase(BaseTestCase):
    sandbox_knobs: dict = {}

    def setUp(self):
        super().setUp()
        self.sandbox = start_sandbox(**self.sandbox_knobs)
        self.addCleanup(self.sandbox.stop)

    def account(self, kind: str, **fields):
        return sandbox_account(self.team, self.sandbox, kind, **fields)

    def upstream(self, order: Order):
        """The sandbox's own record of an order."""
        state = self.sandbox.state
        protocol = "smspool" if order.account.kind == "smspool" else order.account.kind
        return state.order(protocol, order.account.api_key, order.upstream_id)

    def deliver(self, order: Order, text: str = ""):
        upstream = self.upstream(order)
        with self.sandbox.state.lock:
            return self.sandbox.state.deliver(upstream, text=text)

    def advance(self, upstream_seconds: float) -> None:
        state = self.sandbox.state
        state.clock.advance(state.scaled(upstream_seconds))

    def cycle(self, account, *, later: float = 0.0):
        """One sync cycle, as a poller runs it; `later` seconds in our future."""
        return engine.run_cycle(account, now=timezone.now() + timedelta(seconds=later))

    def order_form(self, service="WhatsApp", country="United States", **extra):
        data = {
            "service": service,
            "country": country,
            "offer": "auto:cheapest",
            "idempotency_key": uuid.uuid4().hex,
            "quantity": 1,
            "activation_type": "SMS",
            "failover": "",
        }
        data.update(extra)
        return data

    def place(self, user=None, **form):
        self.client.force_login(user or self.bob)
        return self.client.post(
            reverse("order_new", args=[self.team.code]), self.order_form(**form)
        )

    def offer_key(self, account, service="WhatsApp", country="United States") -> str:
        from orders import quotes
        from providers.models import Country, Service

        svc = (
            Service.objects.get(name=service)
            if service != "WhatsApp"
            else Service.objects.get(slug="whatsapp")
        )
        ctry = Country.objects.get(name=country)
        offers = [o for o in quotes.offers_for(self.team, svc, ctry) if o.account == account]
        return offers[0].key
