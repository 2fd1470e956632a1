"""Exchange rates are edited in the admin (issue 15): saved there, a rate is staff's."""

from decimal import Decimal

from django.urls import reverse

from providers.models import ExchangeRate, RateSource
from tests.base import BaseTestCase, make_user


class ExchangeRateAdminTestCase(BaseTestCase):
    def setUp(self):
        self.staff = make_user("root", is_staff=True, is_superuser=True)
        self.client.force_login(self.staff)
        self.url = reverse("admin:providers_exchangerate_add")

    def test_a_rate_entered_in_the_admin_is_marked_as_staffs(self):
        r = self.client.post(
            self.url, {"currency": "idr", "units_per_usd": "16250", "valid_from": "2026-03-01"}
        )
        self.assertEqual(r.status_code, 302)
        rate = ExchangeRate.objects.get()
        self.assertEqual((rate.currency, rate.units_per_usd), ("IDR", Decimal(16250)))
        self.assertEqual((rate.source, rate.source_detail), (RateSource.STAFF, "entered by root"))

    def test_bad_rates_are_refused_in_plain_words(self):
        for data, words in (
            (
                {"currency": "R1", "units_per_usd": "1", "valid_from": "2026-03-01"},
                "three-letter",
            ),
            (
                {"currency": "USD", "units_per_usd": "1", "valid_from": "2026-03-01"},
                "other than USD",
            ),
            (
                {"currency": "IDR", "units_per_usd": "0", "valid_from": "2026-03-01"},
                "more than zero",
            ),
        ):
            with self.subTest(data=data):
                r = self.client.post(self.url, data)
                self.assertEqual(r.status_code, 200)
                self.assertIn(words, r.content.decode(), data)
        self.assertFalse(ExchangeRate.objects.exists())
