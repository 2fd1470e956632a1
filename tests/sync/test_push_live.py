"""End to end: the real sandbox pushes signed SMSCode events over HTTP to the portal
running on a live server, and nobody polls."""

from __future__ import annotations

import time
import uuid

import requests
from django.test import LiveServerTestCase, override_settings
from django.urls import reverse

from accounts.models import Membership, Team
from accounts.roles import Role
from orders.models import Order, OrderMessage, State
from providers.models import ProviderAccount
from reports.models import LedgerEntry
from tests.base import make_user
from tests.conftest import sandbox_account, start_sandbox


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class PushOverHttpTestCase(LiveServerTestCase):
    def setUp(self):
        self.sandbox = start_sandbox(smscode_webhook_retry_seconds=0.2)
        self.addCleanup(self.sandbox.stop)
        self.settings_override = override_settings(PUBLIC_BASE_URL=self.live_server_url)
        self.settings_override.enable()
        self.addCleanup(self.settings_override.disable)
        self.team = Team.objects.create(name="Push")
        self.user = make_user("pusher")
        Membership.objects.create(team=self.team, user=self.user, role=Role.MEMBER)
        self.account = sandbox_account(self.team, self.sandbox, "smscode")
        self.account.refresh_from_db()

    def control(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.sandbox.base_url}/control{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def place(self) -> Order:
        from orders import quotes
        from providers.models import Country, Service

        self.client.force_login(self.user)
        service, country = Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
        offer = next(
            o
            for o in quotes.offers_for(self.team, service, country)
            if o.account.pk == self.account.pk
        )
        form = {
            "service": "WhatsApp",
            "country": "United States",
            "offer": offer.key,
            "idempotency_key": uuid.uuid4().hex,
            "quantity": 1,
            "activation_type": "SMS",
            "failover": "",
        }
        r = self.client.post(reverse("order_new", args=[self.team.code]), form)
        self.assertEqual(r.status_code, 302, r.content[:500])
        return Order.objects.filter(account=self.account).latest("created")

    def test_codes_and_expiry_arrive_by_push_alone(self):
        self.assertEqual(
            self.account.webhook_url, f"{self.live_server_url}/hooks/smscode/{self.account.code}/"
        )
        # SMSCode's own test event reaches us and is acknowledged.
        self.assertEqual(self.account.client().test_webhook(), 200)

        order = self.place()
        started = time.monotonic()
        self.control(
            f"/orders/smscode/{order.upstream_id}/deliver",
            {"text": "<#> 482913 is your WhatsApp code"},
        )
        self.assertTrue(wait_for(lambda: OrderMessage.objects.filter(order=order).exists()))
        took = time.monotonic() - started
        order.refresh_from_db()
        self.assertEqual(order.state, State.RECEIVED)
        self.assertEqual(order.last_code, "482913")
        self.assertLess(took, 5.0)

        # A second order expires upstream (its clock moved past the lifetime): the
        # sandbox settles it on its own and pushes order.expired; refunded once.
        other = self.place()
        self.control("/clock", {"advance_upstream": 1300})
        self.assertTrue(
            wait_for(lambda: Order.objects.get(pk=other.pk).state == State.EXPIRED), "no expiry"
        )
        self.assertEqual(LedgerEntry.objects.filter(order=other, kind="refund").count(), 1)
        # The first order (with its code) is completed at expiry, not refunded.
        self.assertTrue(
            wait_for(lambda: Order.objects.get(pk=order.pk).state == State.COMPLETED),
            "no completion",
        )
        self.assertEqual(LedgerEntry.objects.filter(order=order, kind="refund").count(), 0)
        self.assertEqual(OrderMessage.objects.filter(order=order).count(), 1)
        hook = self.sandbox.state.account("smscode", self.account.api_key).webhook
        self.assertEqual(hook.get("failures"), 0)
        self.account.refresh_from_db()
        self.assertIsNotNone(self.account.last_push_at)

    def test_deliveries_to_a_wrong_secret_are_retried_then_switched_off(self):
        # Upstream signs with another secret: every delivery is refused (403), retried,
        # and after ten in a row delivery is off; the registration check notices.
        self.sandbox.state.config.smscode_webhook_retry_seconds = 0.005  # 5 s for all ten
        hook = self.sandbox.state.account("smscode", self.account.api_key).webhook
        with self.sandbox.state.lock:
            hook["secret"] = "0" * 64
        order = self.place()
        self.control(f"/orders/smscode/{order.upstream_id}/deliver", {})
        self.assertTrue(wait_for(lambda: hook.get("disabled_at") is not None, 30), hook)
        self.assertFalse(OrderMessage.objects.filter(order=order).exists())
        from providers import webhooks

        ProviderAccount.objects.filter(pk=self.account.pk).update(webhook_checked_at=None)
        self.account.refresh_from_db()
        self.assertEqual(webhooks.check_if_due(self.account), "registered")
        self.assertIsNone(hook.get("disabled_at"))
        self.assertEqual(hook["secret"], self.account.webhook_secret)
