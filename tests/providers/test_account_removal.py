"""Removing a provider account (owners): gone from ordering, offers, dashboards and the sync
engine; its orders, rentals, ledger and audit stay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from orders import quotes
from orders.models import Order, State
from providers import leases, services
from providers.models import Country, Health, ProviderAccount, Service
from rentals.models import Rental, RentalState
from reports.models import LedgerEntry
from sync import engine
from tests.orders.base import SandboxTestCase


class RemovalTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.pool = self.account("smspool", label="Pool main")
        self.code = self.account("smscode", label="Code backup")
        self.whatsapp = Service.objects.get(slug="whatsapp")
        self.us = Country.objects.get(iso="US")

    def remove_url(self, account=None):
        return reverse("provider_remove", args=[(account or self.pool).code])

    def offered_accounts(self):
        return {o.account for o in quotes.offers_for(self.team, self.whatsapp, self.us)}

    def finished_order(self) -> Order:
        """A WhatsApp number bought at Pool main that got its code and is done (charged)."""
        r = self.place(offer=self.offer_key(self.pool))
        self.assertEqual(r.status_code, 302)
        order = Order.objects.get(account=self.pool)
        self.deliver(order, "Your code is 482913")
        self.cycle(self.pool)
        order.refresh_from_db()
        self.assertEqual(order.state, State.RECEIVED)
        self.client.post(reverse("order_complete", args=[order.code]))
        order.refresh_from_db()
        self.assertEqual(order.state, State.COMPLETED)
        return order

    def remove(self, user=None):
        self.client.force_login(user or self.alice)
        return self.client.post(self.remove_url())


class ConfirmationTestCase(RemovalTestCase):
    def test_the_owner_is_told_what_happens_and_what_was_charged_before_anything_does(self):
        order = self.finished_order()
        self.client.force_login(self.alice)
        r = self.client.get(self.remove_url())
        self.assertContains(r, "Remove Pool main?")
        self.assertContains(r, "1 order")
        charged = LedgerEntry.objects.get(order=order).amount
        self.assertContains(r, f"charged {charged.quantize(Decimal('0.01'))} USD in all")
        self.assertContains(r, "This cannot be undone")
        self.assertContains(r, "Your balance at the provider stays there")
        self.assertIsNone(ProviderAccount.objects.get(pk=self.pool.pk).removed_at)

    def test_the_settings_page_offers_removal_to_owners_only(self):
        settings_url = reverse("team_settings", args=[self.team.code])
        self.client.force_login(self.alice)
        self.assertContains(self.client.get(settings_url), f'href="{self.remove_url()}"')
        self.client.force_login(self.mia)
        self.assertNotContains(self.client.get(settings_url), self.remove_url())

    def test_a_manager_gets_the_page_naming_the_owner_role(self):
        self.client.force_login(self.mia)
        for r in (self.client.get(self.remove_url()), self.client.post(self.remove_url())):
            self.assertContains(r, "This needs the Owner role; you are Manager", status_code=403)
        self.assertIsNone(ProviderAccount.objects.get(pk=self.pool.pk).removed_at)

    def test_an_outsider_gets_404(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.remove_url()).status_code, 404)

    def test_removal_waits_for_numbers_still_open(self):
        self.place(offer=self.offer_key(self.pool))
        self.client.force_login(self.alice)
        page = self.client.get(self.remove_url())
        self.assertContains(page, "1 number is still open at Pool main")
        self.assertNotContains(page, 'class="btn danger"')
        r = self.client.post(self.remove_url(), follow=True)
        self.assertContains(r, "1 number is still open at Pool main")
        self.assertIsNone(ProviderAccount.objects.get(pk=self.pool.pk).removed_at)
        self.assertFalse(AuditEvent.objects.filter(action="provider.removed").exists())


class RemovedTestCase(RemovalTestCase):
    def test_history_stays_and_the_removal_is_audited(self):
        order = self.finished_order()
        entries = LedgerEntry.objects.filter(account=self.pool).count()
        r = self.remove()
        self.assertRedirects(r, reverse("team_settings", args=[self.team.code]))
        account = ProviderAccount.objects.get(pk=self.pool.pk)
        self.assertIsNotNone(account.removed_at)
        self.assertEqual(account.removed_by, self.alice)
        self.assertFalse(account.enabled)
        self.assertTrue(account.label.startswith("Pool main (removed "))
        self.assertTrue(Order.objects.filter(pk=order.pk).exists())
        self.assertEqual(LedgerEntry.objects.filter(account=self.pool).count(), entries)
        self.assertGreater(AuditEvent.objects.filter(target_code=str(order.code)).count(), 0)
        event = AuditEvent.objects.get(action="provider.removed")
        self.assertEqual(event.actor, self.alice)
        self.assertEqual(event.payload["label"], "Pool main")
        self.assertEqual(event.payload["orders"], 1)
        # The order's page still shows where it was bought.
        self.assertContains(
            self.client.get(reverse("order_detail", args=[order.code])), "Pool main"
        )

    def test_it_is_not_offered_and_cannot_be_ordered_from(self):
        key = self.offer_key(self.pool)
        self.assertIn(self.pool, self.offered_accounts())
        self.remove()
        self.assertNotIn(self.pool, self.offered_accounts())
        self.assertIn(self.code, self.offered_accounts())
        self.assertIsNone(quotes.find_offer(self.team, self.whatsapp, self.us, key))
        self.place(offer=key)
        self.assertFalse(Order.objects.filter(account=self.pool).exists())

    def test_it_is_not_synced(self):
        rental = Rental.objects.create(
            team=self.team,
            account=self.pool,
            rented_by=self.bob,
            upstream_id="R-1",
            idempotency_key="removal-r1",
            upstream_offer_id="1",
            duration=7,
            phone_number="15550001111",
            state=RentalState.ACTIVE,
            expires_at=timezone.now() + timedelta(days=3),
        )
        leases.mark_due(self.pool.pk)
        self.assertIn(self.pool, engine.accounts_with_work())
        self.remove()
        self.assertNotIn(self.pool, engine.accounts_with_work())
        leases.mark_due(self.pool.pk)  # work given to it later is not followed either
        sent = engine.dispatch_due(enqueue=lambda *args: None)
        self.assertNotIn(self.pool.pk, sent)
        self.assertTrue(Rental.objects.filter(pk=rental.pk, state=RentalState.ACTIVE).exists())

    def test_it_cannot_be_enabled_again_or_reached_by_the_portal(self):
        self.remove()
        account = ProviderAccount.objects.get(pk=self.pool.pk)
        services.provider_account_set_enabled(account=account, enabled=True, actor=self.alice)
        self.assertFalse(ProviderAccount.objects.get(pk=self.pool.pk).enabled)
        self.client.force_login(self.alice)
        for name in ("provider_edit", "provider_remove"):
            self.assertEqual(self.client.get(reverse(name, args=[account.code])).status_code, 404)
        for name in ("provider_test", "provider_sync", "provider_toggle", "provider_remove"):
            self.assertEqual(self.client.post(reverse(name, args=[account.code])).status_code, 404)

    def test_settings_list_it_apart_and_the_label_is_free_again(self):
        self.remove()
        page = self.client.get(reverse("team_settings", args=[self.team.code]))
        self.assertContains(page, "Removed accounts (1)")
        self.assertContains(page, "removed by alice")
        self.assertNotContains(page, reverse("provider_edit", args=[self.pool.code]))
        again = self.account("smspool", label="Pool main")
        self.assertEqual(again.label, "Pool main")

    def test_dashboards_no_longer_show_it(self):
        self.remove()
        for user in (self.alice, self.bob):
            self.client.force_login(user)
            page = self.client.get(reverse("dashboard", args=[self.team.code]))
            self.assertEqual(page.context["provider_accounts"], [self.code])


class FailingAccountOnDashboardsTestCase(RemovalTestCase):
    def setUp(self):
        super().setUp()
        ProviderAccount.objects.filter(pk=self.pool.pk).update(
            health=Health.FAILING, last_error="auth: The provider refused the API key."
        )

    def dashboard(self, user):
        self.client.force_login(user)
        return self.client.get(reverse("dashboard", args=[self.team.code]))

    def test_members_and_viewers_do_not_see_a_failing_account(self):
        for user in (self.bob, self.vic):
            page = self.dashboard(user)
            self.assertNotContains(page, "Pool main")
            self.assertNotContains(page, "refused the API key")
            self.assertContains(page, "Code backup")

    def test_managers_and_owners_see_it_with_the_reason(self):
        for user in (self.mia, self.alice):
            page = self.dashboard(user)
            self.assertContains(page, "Pool main")
            self.assertContains(page, "auth: The provider refused the API key.")

    def test_a_member_with_no_working_account_is_told_who_sees_why(self):
        ProviderAccount.objects.filter(pk=self.code.pk).update(enabled=False)
        page = self.dashboard(self.bob)
        self.assertContains(page, "No provider account works right now")
        self.assertNotContains(page, "No provider accounts yet")
