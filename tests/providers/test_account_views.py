"""Team settings: add, test, edit and disable provider accounts; the key stays hidden."""

from __future__ import annotations

import logging

from django.urls import reverse

from audit.models import AuditEvent
from providers.models import ProviderAccount
from tests.orders.base import SandboxTestCase

SECRET = "sbx_secret_key_9f8e7d6c5b4a"


class ProviderAccountViewsTestCase(SandboxTestCase):
    def add(self, user=None, **fields):
        self.client.force_login(user or self.mia)
        data = {
            "kind": "smspool",
            "label": "Main pool",
            "base_url": self.sandbox.base_url + "/smspool",
            "api_key": SECRET,
            "currency": "",
            "enabled": "on",
        }
        data.update(fields)
        return self.client.post(reverse("provider_add", args=[self.team.code]), data, follow=True)

    def test_a_manager_adds_an_account_and_it_is_tested_at_once(self):
        with self.assertLogs("providers.http", logging.DEBUG) as logs:
            r = self.add()
        self.assertContains(r, "Connected. Balance 100")
        account = ProviderAccount.objects.get()
        self.assertTrue(account.is_sandbox)
        self.assertEqual(account.health, "ok")
        self.assertEqual(account.currency, "USD")
        self.assertContains(r, "sandbox")
        self.assertNotContains(r, SECRET)
        self.assertContains(r, "••••5b4a")
        self.assertContains(r, "44 countries")  # the catalog synced right after the test
        self.assertTrue(all(SECRET not in line for line in logs.output))
        event = AuditEvent.objects.get(action="provider.added")
        self.assertNotIn(SECRET, str(event.payload))

    def test_a_bad_key_reports_the_exact_reason(self):
        r = self.add(api_key="not-a-sandbox-key")
        self.assertContains(r, "connection failed")
        self.assertContains(r, "auth_failed")
        self.assertEqual(ProviderAccount.objects.get().health, "failing")

    def test_the_key_is_never_rendered_again(self):
        self.add()
        account = ProviderAccount.objects.get()
        for url in (
            reverse("team_settings", args=[self.team.code]),
            reverse("provider_edit", args=[account.code]),
            reverse("dashboard", args=[self.team.code]),
        ):
            r = self.client.get(url)
            self.assertEqual(r.status_code, 200)
            self.assertNotContains(r, SECRET)

    def test_editing_without_a_key_keeps_the_key(self):
        self.add()
        account = ProviderAccount.objects.get()
        r = self.client.post(
            reverse("provider_edit", args=[account.code]),
            {
                "kind": "smspool",
                "label": "Renamed",
                "base_url": account.base_url,
                "api_key": "",
                "currency": "USD",
                "enabled": "on",
            },
        )
        self.assertEqual(r.status_code, 302)
        account.refresh_from_db()
        self.assertEqual(account.label, "Renamed")
        self.assertEqual(account.api_key, SECRET)
        event = AuditEvent.objects.get(action="provider.updated")
        self.assertEqual(event.payload["label"], {"before": "Main pool", "after": "Renamed"})

    def test_disable_and_enable(self):
        self.add()
        account = ProviderAccount.objects.get()
        self.client.post(reverse("provider_toggle", args=[account.code]))
        account.refresh_from_db()
        self.assertFalse(account.enabled)
        self.client.post(reverse("provider_toggle", args=[account.code]))
        account.refresh_from_db()
        self.assertTrue(account.enabled)

    def test_test_connection_button(self):
        self.add()
        account = ProviderAccount.objects.get()
        r = self.client.post(reverse("provider_test", args=[account.code]), follow=True)
        self.assertContains(r, "Connected.")

    def test_sync_catalog_fills_the_canonical_mapping(self):
        self.add()
        account = ProviderAccount.objects.get()
        self.client.post(reverse("provider_sync", args=[account.code]))
        whatsapp = account.catalog_services.get(name="WhatsApp")
        self.assertEqual(whatsapp.service.slug, "whatsapp")
        us = account.catalog_countries.get(iso="US")
        self.assertEqual(us.country.iso, "US")
        self.assertTrue(account.prices.filter(service=whatsapp, country=us).exists())

    def test_members_and_viewers_cannot_manage(self):
        self.add()
        account = ProviderAccount.objects.get()
        for user in (self.bob, self.vic):
            self.client.force_login(user)
            self.assertEqual(
                self.client.get(reverse("provider_add", args=[self.team.code])).status_code, 403
            )
            for name in ("provider_test", "provider_sync", "provider_toggle"):
                self.assertEqual(
                    self.client.post(reverse(name, args=[account.code])).status_code, 403
                )
            self.assertEqual(
                self.client.get(reverse("provider_edit", args=[account.code])).status_code, 403
            )

    def test_outsiders_get_404(self):
        self.add()
        account = ProviderAccount.objects.get()
        self.client.force_login(self.charlie)
        for name in ("provider_test", "provider_sync", "provider_toggle"):
            self.assertEqual(self.client.post(reverse(name, args=[account.code])).status_code, 404)
        self.assertEqual(
            self.client.get(reverse("provider_add", args=[self.team.code])).status_code, 404
        )

    def test_posts_only(self):
        self.add()
        account = ProviderAccount.objects.get()
        for name in ("provider_test", "provider_sync", "provider_toggle"):
            self.assertEqual(self.client.get(reverse(name, args=[account.code])).status_code, 405)

    def test_the_sandbox_url_is_refused_when_disabled(self):
        with self.settings(SANDBOX_ENABLED=False, SANDBOX_URL=self.sandbox.base_url):
            r = self.add()
        self.assertContains(r, "sandbox provider is disabled")
        self.assertFalse(ProviderAccount.objects.exists())

    def test_no_request_reaches_a_sandbox_when_disabled(self):
        # Whatever the URL looks like, a sandbox answer is refused in production.
        with self.settings(SANDBOX_ENABLED=False):
            r = self.add()
        self.assertContains(r, "sandbox provider is disabled")
        self.assertEqual(ProviderAccount.objects.get().health, "failing")

    def test_a_duplicate_label_is_refused(self):
        self.add()
        r = self.add()
        self.assertContains(r, "already has this label")
