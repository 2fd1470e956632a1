"""Refund and extend are paid or irreversible: each has a confirmation step that states
what happens and the amount, then a POST does it."""

from __future__ import annotations

from django.urls import reverse

from rentals.models import Rental, RentalState
from reports.models import LedgerEntry
from tests.rentals.test_rentals import RentalTestCase


class ConfirmStepsTestCase(RentalTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.rental_offer = self.offer(self.smspool, refundable=True)
        self.rent(self.rental_offer)
        self.rental = Rental.objects.get()
        self.detail = reverse("rental_detail", args=[self.rental.code])

    def test_the_detail_page_leads_to_the_steps_not_to_one_click_forms(self):
        page = self.client.get(self.detail).content.decode()
        refund = reverse("rental_refund", args=[self.rental.code])
        extend = reverse("rental_extend", args=[self.rental.code])
        self.assertIn(f'href="{refund}"', page)
        self.assertNotIn(f'action="{refund}"', page)
        self.assertIn(f'<form method="get" action="{extend}"', page)

    def test_refund_states_the_amount_and_refunds_only_on_post(self):
        url = reverse("rental_refund", args=[self.rental.code])
        paid = LedgerEntry.objects.get(rental=self.rental).amount
        r = self.client.get(url)
        self.assertContains(r, f"Refund {self.rental.international_number}?")
        self.assertContains(r, f"{paid.quantize(paid.__class__('0.01'))} USD")
        self.assertContains(r, "This cannot be undone")
        self.rental.refresh_from_db()
        self.assertEqual(self.rental.state, RentalState.ACTIVE)
        self.client.post(url)
        self.rental.refresh_from_db()
        self.assertEqual(self.rental.state, RentalState.REFUNDED)

    def test_extend_states_the_price_and_the_new_expiry_and_extends_only_on_post(self):
        length, price = self.rental_offer.extend_durations()[0]
        url = reverse("rental_extend", args=[self.rental.code])
        before = self.rental.expires_at
        r = self.client.get(url, {"duration": length})
        self.assertContains(r, f"Extend {self.rental.international_number}?")
        self.assertContains(r, f"By <b>{length} days</b>")
        self.assertContains(r, f"{price.quantize(price.__class__('0.01'))} USD")
        self.assertContains(r, f'<input type="hidden" name="duration" value="{length}">')
        self.rental.refresh_from_db()
        self.assertEqual(self.rental.expires_at, before)
        self.assertFalse(LedgerEntry.objects.filter(rental=self.rental, kind="extension").exists())
        self.client.post(url, {"duration": length})
        self.rental.refresh_from_db()
        self.assertGreater(self.rental.expires_at, before)
        self.assertTrue(LedgerEntry.objects.filter(rental=self.rental, kind="extension").exists())

    def test_a_length_not_offered_goes_back_with_a_plain_message(self):
        url = reverse("rental_extend", args=[self.rental.code])
        for bad in ("9999", "x", ""):
            r = self.client.get(url, {"duration": bad}, follow=True)
            self.assertRedirects(r, self.detail)
            self.assertContains(r, "Choose one of the lengths offered for this rental.")

    def test_a_refund_no_longer_allowed_says_why_instead_of_a_confirm_page(self):
        self.message(self.rental)
        self.refresh(self.rental)
        r = self.client.get(reverse("rental_refund", args=[self.rental.code]), follow=True)
        self.assertRedirects(r, self.detail)
        self.assertContains(r, "can no longer be refunded")

    def test_viewers_get_the_page_naming_the_roles_that_may(self):
        self.client.force_login(self.vic)
        for name in ("rental_refund", "rental_extend"):
            r = self.client.get(reverse(name, args=[self.rental.code]))
            self.assertContains(r, "This needs the Owner, Manager or Member role", status_code=403)
