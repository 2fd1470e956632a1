"""Team settings show how much of each provider's catalog found no canonical match."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from providers.models import ProviderAccount
from tests.base import BaseTestCase


class UnmappedShareTestCase(BaseTestCase):
    def account(self, **counts) -> ProviderAccount:
        account = ProviderAccount(
            team=self.team, kind="smspool", label="Live pool", base_url="https://example.com"
        )
        account.set_api_key("key-xxxx")
        for name, value in counts.items():
            setattr(account, name, value)
        account.save()
        return account

    def settings_page(self, user):
        self.login(user)
        return self.client.get(reverse("team_settings", args=[self.team.code]))

    def test_it_shows_the_unmapped_share_after_a_sync(self):
        self.account(
            catalog_synced_at=timezone.now(),
            catalog_service_count=1399,
            catalog_services_unmapped=1273,
            catalog_country_count=148,
            catalog_countries_unmapped=0,
        )
        r = self.settings_page(self.bob)
        self.assertContains(
            r, "Unmapped: 1273 of 1399 services (91%), 0 of 148 countries (0%)", html=False
        )

    def test_it_shows_nothing_before_a_sync_has_counted(self):
        self.account()
        r = self.settings_page(self.alice)
        self.assertContains(r, "not synced")
        self.assertNotContains(r, "Unmapped:")

    def test_the_share_is_a_property_of_the_account(self):
        account = self.account(catalog_service_count=4, catalog_services_unmapped=1)
        self.assertEqual(account.unmapped_services_share, 0.25)
        self.assertIsNone(account.unmapped_countries_share)
