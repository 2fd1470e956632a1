"""Service and country search that forgives: starts, words, aliases and typos."""

from __future__ import annotations

from django.test import SimpleTestCase

from orders.forms import PairForm
from providers.canonical import COUNTRIES, SERVICES
from providers.models import CatalogCountry, CatalogService, Country, ProviderAccount, Service
from providers.picks import find_country, find_service
from providers.search import best, suggestions, typo_distance
from providers.services import ensure_canonical
from rentals.forms import RentalSearchForm
from tests.base import BaseTestCase

SERVICE_OPTIONS = [(slug, name, "All") for slug, name, _aliases in SERVICES]
COUNTRY_OPTIONS = [(iso, name, "All") for iso, name, _dial, _aliases in COUNTRIES]


class SearchRuleTestCase(SimpleTestCase):
    def service(self, text):
        found = best(text, SERVICE_OPTIONS, kind="service")
        return found and found.value

    def country(self, text):
        found = best(text, COUNTRY_OPTIONS, kind="country")
        return found and found.value

    def test_a_start_or_a_word_finds_the_service(self):
        self.assertEqual(self.service("whats"), "whatsapp")
        self.assertEqual(self.service("tele"), "telegram")
        self.assertEqual(self.service("disc"), "discord")
        self.assertEqual(self.country("kingdom"), "GB")
        self.assertEqual(self.country("states united"), "US")

    def test_aliases_and_listings_with_more_words(self):
        self.assertEqual(self.service("gmail"), "google")
        self.assertEqual(self.service("google voice"), "google")
        self.assertEqual(self.service("chatgpt"), "openai")
        self.assertEqual(self.service("wa"), "whatsapp")
        self.assertEqual(self.country("holland"), "NL")

    def test_typos(self):
        self.assertEqual(self.service("telegarm"), "telegram")  # two letters swapped
        self.assertEqual(self.service("watsapp"), "whatsapp")  # one missing
        self.assertEqual(self.service("facebok"), "facebook")
        self.assertEqual(self.country("indonsia"), "ID")
        self.assertEqual(typo_distance("telegarm", "telegram"), 1)
        self.assertEqual(typo_distance("kitten", "sitting"), 3)

    def test_short_or_unclear_text_matches_nothing(self):
        self.assertIsNone(self.service("xyzzy"))
        self.assertIsNone(self.service("wh"))  # two letters: only exact codes count
        self.assertIsNone(self.country("united"))  # States? Kingdom? Emirates?
        self.assertEqual(
            suggestions("united", COUNTRY_OPTIONS, kind="country")[:2],
            ["United States", "United Kingdom"],
        )

    def test_a_listing_of_one_provider_wins_over_a_longer_one(self):
        options = [
            *SERVICE_OPTIONS,
            ("u7", "Google Voice (SMSPool)", "Other"),
            ("u8", "Telegram Premium (SMSPool)", "Other"),
        ]
        self.assertEqual(best("google voice", options, kind="service").value, "u7")
        self.assertEqual(best("tele", options, kind="service").value, "telegram")
        self.assertEqual(best("goog", options, kind="service").value, "google")


class FindInTheTeamsCatalogTestCase(BaseTestCase):
    def setUp(self):
        ensure_canonical()
        account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        account.set_api_key("k-1234")
        account.save()
        for n, slug in enumerate(("whatsapp", "telegram", "google"), 1):
            CatalogService.objects.create(
                account=account,
                upstream_id=str(n),
                name=Service.objects.get(slug=slug).name,
                service=Service.objects.get(slug=slug),
            )
        self.voice = CatalogService.objects.create(
            account=account, upstream_id="99", name="Google Voice"
        )
        for n, iso in enumerate(("US", "GB", "ID"), 1):
            country = Country.objects.get(iso=iso)
            CatalogCountry.objects.create(
                account=account, upstream_id=str(n), name=country.name, iso=iso, country=country
            )

    def test_the_order_and_rental_forms_forgive(self):
        self.assertEqual(find_service("whats", team=self.team).slug, "whatsapp")
        self.assertEqual(find_service("tele", team=self.team).slug, "telegram")
        self.assertEqual(find_service("Telegarm", team=self.team).slug, "telegram")
        self.assertEqual(find_service("google voice", team=self.team), self.voice)
        self.assertEqual(find_service("gmail", team=self.team).slug, "google")
        self.assertEqual(find_country("indonsia", team=self.team).iso, "ID")
        rental = RentalSearchForm({"service": "whats", "country": "kingdom"}, team=self.team)
        self.assertTrue(rental.is_valid(), rental.errors)
        self.assertEqual(rental.cleaned_data["country"].iso, "GB")

    def test_a_service_of_no_provider_of_the_team_is_not_guessed(self):
        # Discord is in the canonical list, but none of the team's accounts sells it.
        self.assertIsNone(find_service("discrod", team=self.team))

    def test_an_unclear_name_is_refused_with_what_it_may_mean(self):
        form = PairForm({"service": "whatsapp", "country": "united"}, team=self.team)
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors["country"],
            [
                "No country called “united” in the team's catalog. "
                "Did you mean “United States” or “United Kingdom”?"
            ],
        )
