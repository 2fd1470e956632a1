"""`make demo` has activity to report (issue 15): real purchases from the sandbox spread
over two weeks, books that reconcile to the cent, and a low balance that raises the
managers' banner."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from demo.activity import create_demo_activity
from demo.data import create_demo_team, create_sandbox_accounts
from orders.models import Order
from providers.services import catalog_sync, provider_account_test
from reports.balances import reconcile
from tests.conftest import start_sandbox


class DemoActivityTestCase(TestCase):
    def test_the_demo_buys_spreads_and_reconciles(self):
        sandbox = start_sandbox()
        self.addCleanup(sandbox.stop)
        with override_settings(SANDBOX_URL=sandbox.base_url, SANDBOX_ENABLED=True):
            team = create_demo_team()
            for account in create_sandbox_accounts(team):
                if account.kind != "numpool":  # the demo leaves NumPool alone (rate budget)
                    catalog_sync(account=account)
                    provider_account_test(account=account, actor=None)  # as `demo` does
            placed = create_demo_activity(team)
            self.assertEqual(create_demo_activity(team), 0)  # once per team
        self.assertGreaterEqual(placed, 12)
        orders = Order.objects.filter(team=team)
        self.assertGreater(orders.filter(code_received_at__isnull=False).count(), 8)
        oldest = orders.order_by("created").first().created
        self.assertLess(oldest, timezone.now() - timedelta(days=1))  # spread, not all today
        today = timezone.localdate()
        for account in team.provider_accounts.exclude(kind="numpool"):
            with self.subTest(account=account.label):
                rec = reconcile(account, today - timedelta(days=20), today)
                self.assertGreater(rec.ledger, 0)
                self.assertEqual((rec.unexplained, rec.flagged), (0, []))
        self.client.force_login(team.owners().first().user)
        r = self.client.get(reverse("dashboard", args=[team.code]))
        self.assertContains(r, "data-low-balance")
        r = self.client.get(reverse("reports", args=[team.code]))
        self.assertContains(r, '<svg class="chart"')
