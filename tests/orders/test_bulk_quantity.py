"""Quantity: every provider sells N numbers as N rows with one charge each, the spend
check covers N x price before anything is bought, and a repeated post buys nothing more
(issue 12, bug 2)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Order, State
from reports.models import LedgerEntry, SpendHold
from tests.orders.base import SandboxTestCase


class BulkQuantityTestCase(SandboxTestCase):
    def flash(self, response) -> str:
        return " ".join(str(m) for m in get_messages(response.wsgi_request))

    def test_numpool_without_multi_purchase_buys_them_one_by_one(self):
        numpool = self.account("numpool")
        r = self.place(quantity=3, offer=self.offer_key(numpool))
        self.assertEqual(r.status_code, 302)
        self.assertIn("3 numbers ordered (numpool sandbox)", self.flash(r))
        orders = Order.objects.filter(account=numpool)
        self.assertEqual(orders.count(), 3)
        self.assertEqual({o.state for o in orders}, {State.WAITING})
        self.assertEqual(LedgerEntry.objects.filter(order__in=orders, kind="purchase").count(), 3)
        self.assertFalse(SpendHold.objects.filter(released_at__isnull=True).exists())

    def test_the_spend_check_covers_every_number_before_buying_any(self):
        smspool = self.account("smspool")
        self.member.monthly_spend_limit = Decimal("2.00")  # 3 x 0.79 USD does not fit
        self.member.save()
        r = self.place(quantity=3, offer=self.offer_key(smspool))
        self.assertContains(r, "monthly limit")
        self.assertFalse(Order.objects.exclude(state=State.FAILED).exists())
        self.assertFalse(LedgerEntry.objects.exists())
        upstream = self.sandbox.state.account("smspool", smspool.api_key)
        self.assertEqual(len(upstream.orders), 0)

    def test_the_same_form_posted_again_buys_nothing_more(self):
        smspool = self.account("smspool")
        form = self.order_form(quantity=4, offer=self.offer_key(smspool))
        self.client.force_login(self.bob)
        url = reverse("order_new", args=[self.team.code])
        first = self.client.post(url, form)
        again = self.client.post(url, form)
        self.assertIn("4 numbers ordered", self.flash(first))
        self.assertIn("4 numbers ordered", self.flash(again))
        self.assertEqual(Order.objects.count(), 4)
        self.assertEqual(len(self.sandbox.state.account("smspool", smspool.api_key).orders), 4)


class BulkRowReplacedTestCase(SandboxTestCase):
    sandbox_knobs = {"cancel_lock_seconds": 0}

    def test_a_new_number_for_one_row_of_a_bulk_order_is_one_number(self):
        smspool = self.account("smspool")
        self.place(quantity=3, offer=self.offer_key(smspool))
        row = Order.objects.order_by("idempotency_key")[1]
        r = self.client.post(reverse("order_replace", args=[row.code]))
        self.assertEqual(r.status_code, 302)
        row.refresh_from_db()
        self.assertEqual(row.state, State.CANCELLED)
        self.assertEqual(Order.objects.filter(replaces=row).count(), 1)
        self.assertEqual(Order.objects.count(), 4)
        self.assertEqual(len(self.sandbox.state.account("smspool", smspool.api_key).orders), 4)


class LongNoteTestCase(SandboxTestCase):
    def test_an_order_form_note_over_500_characters_is_refused_and_nothing_bought(self):
        self.account("smspool")
        r = self.place(note="x" * 3000)
        self.assertContains(
            r, "A note is at most 500 characters; this one has 3000.", status_code=400
        )
        self.assertNotContains(r, 'maxlength="500"', status_code=400)
        self.assertFalse(Order.objects.exists())
