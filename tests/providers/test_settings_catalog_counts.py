"""Team settings count each account's catalogue rows without joining the two tables."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from providers.models import CatalogCountry, CatalogService, ProviderAccount
from tests.base import BaseTestCase


class CatalogCountsTestCase(BaseTestCase):
    def account(self, label: str, countries: int, services: int) -> ProviderAccount:
        account = ProviderAccount(
            team=self.team, kind="smspool", label=label, base_url="https://example.com"
        )
        account.set_api_key("key-xxxx")
        account.save()
        for i in range(countries):
            CatalogCountry.objects.create(account=account, upstream_id=str(i), name=f"C{i}")
        for i in range(services):
            CatalogService.objects.create(account=account, upstream_id=str(i), name=f"S{i}")
        return account

    def settings_page(self):
        self.login(self.bob)
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse("team_settings", args=[self.team.code]))
        return response, [q["sql"] for q in queries.captured_queries]

    def test_it_shows_each_accounts_own_counts(self):
        self.account("A pool", countries=3, services=4)
        self.account("B pool", countries=0, services=2)
        self.account("C pool", countries=0, services=0)
        r, _ = self.settings_page()
        self.assertContains(r, "3 countries, 4 services")
        self.assertContains(r, "0 countries, 2 services")
        self.assertContains(r, "0 countries, 0 services")

    def test_it_never_joins_countries_with_services(self):
        self.account("A pool", countries=3, services=4)
        _, sql = self.settings_page()
        joins = [q for q in sql if 'JOIN "providers_catalogcountry"' in q]
        joins += [q for q in sql if 'JOIN "providers_catalogservice"' in q]
        self.assertEqual(joins, [])
