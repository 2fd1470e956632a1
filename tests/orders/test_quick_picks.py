"""Favourites (per member) and recent service and country pairs, one click away."""

from __future__ import annotations

from django.urls import reverse

from orders.models import FavouritePair
from orders.quickpicks import Pick, quick_picks
from providers.models import CatalogCountry, CatalogService, Country, ProviderAccount, Service
from providers.services import ensure_canonical
from tests.base import BaseTestCase
from tests.orders.test_board_and_history import make_order


class QuickPicksTestCase(BaseTestCase):
    def setUp(self):
        ensure_canonical()
        self.account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.account.set_api_key("k-1234")
        self.account.save()
        for n, slug in enumerate(("whatsapp", "telegram"), 1):
            service = Service.objects.get(slug=slug)
            CatalogService.objects.create(
                account=self.account, upstream_id=str(n), name=service.name, service=service
            )
        for n, iso in enumerate(("US", "GB"), 1):
            country = Country.objects.get(iso=iso)
            CatalogCountry.objects.create(
                account=self.account,
                upstream_id=str(n),
                name=country.name,
                iso=iso,
                country=country,
            )
        self.url = reverse("order_new", args=[self.team.code])
        self.star = reverse("order_favourite", args=[self.team.code])

    def order(self, user, n, slug, iso):
        return make_order(
            self.team,
            self.account,
            user,
            n,
            service=Service.objects.get(slug=slug),
            country=Country.objects.get(iso=iso),
        )

    def test_recent_pairs_are_the_members_own_newest_first(self):
        self.order(self.bob, 1, "whatsapp", "US")
        self.order(self.bob, 2, "telegram", "GB")
        self.order(self.bob, 3, "whatsapp", "US")
        self.order(self.alice, 4, "telegram", "US")
        picks = quick_picks(team=self.team, user=self.bob)
        self.assertEqual(
            picks,
            [Pick("WhatsApp", "United States"), Pick("Telegram", "United Kingdom")],
        )
        self.login(self.bob)
        r = self.client.get(self.url)
        self.assertContains(r, "?service=WhatsApp&amp;country=United%20States")
        self.assertNotContains(r, "Telegram · United States")  # alice's

    def test_a_member_stars_a_pair_typed_loosely_and_unstars_it(self):
        self.login(self.bob)
        r = self.client.post(self.star, {"service": "whats", "country": "usa"})
        self.assertRedirects(r, f"{self.url}?service=whats&country=usa")
        favourite = FavouritePair.objects.get(team=self.team, user=self.bob)
        self.assertEqual((favourite.service_key, favourite.country_key), ("whatsapp", "US"))
        page = self.client.get(self.url, {"service": "WhatsApp", "country": "United States"})
        self.assertContains(page, "★</span> WhatsApp · United States")
        self.assertContains(page, 'aria-pressed="true"')
        # Favourites are the member's own.
        self.login(self.alice)
        self.assertNotContains(self.client.get(self.url), "WhatsApp · United States")
        self.login(self.bob)
        self.client.post(self.star, {"service": "WhatsApp", "country": "United States"})
        self.assertFalse(FavouritePair.objects.exists())

    def test_a_pair_that_names_nothing_is_refused_in_plain_words(self):
        self.login(self.bob)
        r = self.client.post(self.star, {"service": "xyzzy", "country": "usa"}, follow=True)
        self.assertContains(r, "No service called “xyzzy”")
        self.assertFalse(FavouritePair.objects.exists())

    def test_it_requires_a_post_and_a_member(self):
        self.login(self.bob)
        self.assertEqual(self.client.get(self.star).status_code, 405)
        self.login(self.charlie)
        r = self.client.post(self.star, {"service": "whats", "country": "usa"})
        self.assertEqual(r.status_code, 404)
