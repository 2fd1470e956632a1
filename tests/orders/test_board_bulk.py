"""Bulk actions on the board's selected rows: each order through its own service,
access checked, one summary message. Real HTTP to the sandbox."""

from __future__ import annotations

import uuid

from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Order, State
from tests.orders.base import SandboxTestCase


class BulkTestCase(SandboxTestCase):
    sandbox_knobs = {"cancel_lock_by_protocol": {"smscode": 0.0}}

    def setUp(self):
        super().setUp()
        self.smscode = self.account("smscode")
        self.url = reverse("board_bulk", args=[self.team.code])

    def order(self) -> Order:
        before = set(Order.objects.values_list("pk", flat=True))
        response = self.place(offer=self.offer_key(self.smscode))
        self.assertEqual(response.status_code, 302)
        (order,) = Order.objects.exclude(pk__in=before)
        return order

    def bulk(self, action, *orders, user=None, **extra):
        self.client.force_login(user or self.bob)
        codes = [str(o.code) if isinstance(o, Order) else o for o in orders]
        return self.client.post(self.url, {"action": action, "order": codes, **extra})

    def said(self, response) -> str:
        return " ".join(str(m) for m in get_messages(response.wsgi_request))

    def test_it_marks_done_and_says_why_one_was_refused(self):
        used, waiting = self.order(), self.order()
        self.deliver(used, "Your code is 123456")
        self.cycle(self.smscode)
        r = self.bulk("complete", used, waiting)
        self.assertEqual(r.status_code, 302)
        text = self.said(r)
        self.assertIn("1 marked done", text)
        self.assertIn(f"1 refused: {waiting.international_number}: No code has arrived yet", text)
        used.refresh_from_db()
        waiting.refresh_from_db()
        self.assertEqual((used.state, waiting.state), (State.COMPLETED, State.WAITING))

    def test_it_cancels_and_refuses_what_is_not_the_teams(self):
        first, second = self.order(), self.order()
        elsewhere = Order.objects.create(
            team=self.other_team,
            account=first.account,
            idempotency_key="x",
            service_name="WhatsApp",
            country_name="United States",
            state=State.WAITING,
        )
        r = self.bulk("cancel", first, second, elsewhere, "not-a-code")
        text = self.said(r)
        self.assertIn("2 cancelled", text)
        self.assertIn("2 refused", text)
        self.assertIn("not a number of this team", text)
        elsewhere.refresh_from_db()
        self.assertEqual(elsewhere.state, State.WAITING)  # another team's order: untouched
        for order in (first, second):
            order.refresh_from_db()
            self.assertEqual(order.state, State.CANCELLED)

    def test_it_goes_back_to_the_filtered_board(self):
        order = self.order()
        back = reverse("board", args=[self.team.code]) + "?who=mine&q=555"
        r = self.bulk("cancel", order, next=back)
        self.assertEqual(r["Location"], back)
        r = self.bulk("cancel", order, next="https://evil.example/")
        self.assertEqual(r["Location"], reverse("board", args=[self.team.code]))

    def test_bad_requests_are_told_in_words(self):
        order = self.order()
        self.assertIn("Choose what to do", self.said(self.bulk("explode", order)))
        self.assertIn("Select at least one number", self.said(self.bulk("cancel")))
        many = [str(uuid.uuid4()) for _ in range(501)]
        self.assertIn("at most 500", self.said(self.bulk("cancel", *many)))
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)

    def test_a_viewer_may_not_and_an_outsider_does_not_see_the_team(self):
        order = self.order()
        self.assertEqual(self.bulk("cancel", order, user=self.vic).status_code, 403)
        self.assertEqual(self.bulk("cancel", order, user=self.charlie).status_code, 404)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
